package realpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvDebDir names the directory where the Debian packages of the real
// servers are kept between runs.
const EnvDebDir = "MXLAB_DEB_DIR"

// DebDir is where the Debian packages of the real servers are kept:
// MXLAB_DEB_DIR, else <user cache dir>/mxlab/debs.
func DebDir() string {
	if d := os.Getenv(EnvDebDir); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "mxlab", "debs")
}

// Debs returns the .deb file of each package, from DebDir, fetched with
// `apt-get download` when missing there. Exim and sendmail conflict with
// Postfix, so the suite never installs them: it unpacks them (dpkg -x).
// A package neither kept nor downloadable ends the test as the mode
// says, with the command that fetches it.
func Debs(t testing.TB, pkgs ...string) []string {
	t.Helper()
	Enabled(t)
	dir := DebDir()
	hint := "mkdir -p " + dir + " && cd " + dir + " && apt-get download " + strings.Join(pkgs, " ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		missing(t, "cannot keep Debian packages in "+dir+": "+err.Error(), hint)
	}
	var out []string
	for _, pkg := range pkgs {
		debs, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
		if len(debs) == 0 {
			r := Run(t, Cmd{Path: "apt-get", Args: []string{"download", pkg}, Dir: dir, Timeout: 5 * time.Minute})
			debs, _ = filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
			if r.Code != 0 || len(debs) == 0 {
				missing(t, "Debian package "+pkg+" is missing ("+strings.TrimSpace(r.All())+")", hint)
			}
		}
		out = append(out, newestDeb(debs))
	}
	return out
}

// newestDeb is the file of the highest version among one package's .debs
// (pkg_VERSION_ARCH.deb), compared as dpkg does: "4.96-15+deb12u11" is
// newer than "4.96-15+deb12u9", which a sort by name gets wrong.
func newestDeb(debs []string) string {
	best := debs[0]
	for _, d := range debs[1:] {
		if exec.Command("dpkg", "--compare-versions", debVersion(d), "gt", debVersion(best)).Run() == nil {
			best = d
		}
	}
	return best
}

// debVersion reads the version from a .deb's file name; apt-get download
// writes an epoch's colon as %3a.
func debVersion(path string) string {
	parts := strings.Split(strings.TrimSuffix(filepath.Base(path), ".deb"), "_")
	if len(parts) < 3 {
		return ""
	}
	return strings.ReplaceAll(parts[1], "%3a", ":")
}
