package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// debDir is where the Debian packages of the real servers are kept:
// MXLAB_DEB_DIR, else <user cache dir>/mxlab/debs. A package missing
// there is fetched with `apt-get download` (never apt-get install: Exim
// and sendmail conflict with Postfix).
func debDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MXLAB_DEB_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "mxlab", "debs")
}

// unpackDebs unpacks Debian packages (dpkg -x) into a fresh root and
// returns it. A package that is neither in debDir nor downloadable fails
// the test with the command that fetches it, unless
// internal/realpeer's policy says otherwise.
func unpackDebs(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir := debDir(t)
	hint := "mkdir -p " + dir + " && cd " + dir + " && apt-get download " + strings.Join(pkgs, " ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		skipOrFail(t, "interop: "+dir+": "+err.Error(), hint)
	}
	root := t.TempDir()
	for _, pkg := range pkgs {
		debs, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
		if len(debs) == 0 {
			cmd := exec.Command("apt-get", "download", pkg)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			debs, _ = filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
			if err != nil || len(debs) == 0 {
				skipOrFail(t, "interop: Debian package "+pkg+" is missing ("+strings.TrimSpace(string(out))+")", hint)
			}
		}
		run(t, time.Minute, "dpkg", "-x", debs[len(debs)-1], root)
	}
	return root
}

// privateRootScript is the start of a shell script run with `unshare -m
// --propagation private` inside the namespace: /etc and /var get an
// overlay (upper directories under ovl), so the users and directories a
// Debian MTA needs exist only for it, and /dev gets a tmpfs with real
// device nodes (/dev/null is not always a device on the host). The
// overlay hides the namespace's resolv.conf, which `ip netns exec` had
// bind-mounted: it is mounted again.
func privateRootScript(ns, ovl string) string {
	return `set -e
for d in etc var; do mkdir -p ` + ovl + `/$d-u ` + ovl + `/$d-w; mount -t overlay overlay -o lowerdir=/$d,upperdir=` + ovl + `/$d-u,workdir=` + ovl + `/$d-w /$d; done
mount --bind /etc/netns/` + ns + `/resolv.conf /etc/resolv.conf
mount -t tmpfs -o mode=755 tmpfs /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/random c 1 8
`
}
