package realpeer

import (
	"os"
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
		// The newest version kept sorts last.
		out = append(out, debs[len(debs)-1])
	}
	return out
}
