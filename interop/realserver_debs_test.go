package interop

import (
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// unpackDebs unpacks Debian packages (dpkg -x) into a fresh root and
// returns it; realpeer.Debs keeps and fetches them (never apt-get
// install: Exim and sendmail conflict with Postfix).
func unpackDebs(t *testing.T, pkgs ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, deb := range realpeer.Debs(t, pkgs...) {
		run(t, time.Minute, "dpkg", "-x", deb, root)
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
