package realpeer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Peer is a real program a test drives: where to find it, the Debian
// packages that provide it, and a probe of what it must be able to do.
type Peer struct {
	// Name is the command name, looked up in PATH and then in Dirs.
	Name string
	// Packages install it (and what the probe needs).
	Packages []string
	// Dirs are searched after PATH: Postfix's programs live in /usr/sbin,
	// which a non-root PATH lacks, and some in /usr/lib/postfix/sbin.
	Dirs []string
	// Probe checks what the program can do, given its path; nil means
	// being there is enough. It runs once per test binary.
	Probe func(path string) error
}

// The peers of the suite. scripts/install-test-deps.sh installs them.
var (
	OpenSSL    = Peer{Name: "openssl", Packages: []string{"openssl"}}
	GnuTLSCli  = Peer{Name: "gnutls-cli", Packages: []string{"gnutls-bin"}}
	GnuTLSServ = Peer{Name: "gnutls-serv", Packages: []string{"gnutls-bin"}}
	// Swaks must speak TLS: it only Recommends libnet-ssleay-perl, and
	// without it prints "TLS not available: requires Net::SSLeay".
	Swaks = Peer{Name: "swaks", Packages: []string{"swaks", "libnet-ssleay-perl"}, Probe: swaksTLS}
	Dig   = Peer{Name: "dig", Packages: []string{"dnsutils"}}
	Kdig  = Peer{Name: "kdig", Packages: []string{"knot-dnsutils"}}
	// Delv is BIND's validating lookup tool: it fetches and validates
	// the chain of trust itself, from a trust anchor given with -a.
	Delv = Peer{Name: "delv", Packages: []string{"bind9-dnsutils"}}
	// Unbound is the validating resolver the DNSSEC tests put in front
	// of the lab, in a network namespace, with the lab's trust anchor.
	Unbound = Peer{Name: "unbound", Packages: []string{"unbound"}, Dirs: []string{"/usr/sbin"}}
	IP      = Peer{Name: "ip", Packages: []string{"iproute2"}, Dirs: []string{"/usr/sbin", "/sbin"}}
	// PosttlsFinger is Postfix's TLS probe.
	PosttlsFinger = Peer{Name: "posttls-finger", Packages: []string{"postfix"}, Dirs: []string{"/usr/sbin"}}
	Postconf      = Peer{Name: "postconf", Packages: []string{"postfix"}, Dirs: []string{"/usr/sbin"}}
	Postfix       = Peer{Name: "postfix", Packages: []string{"postfix"}, Dirs: []string{"/usr/sbin"}}
	Postqueue     = Peer{Name: "postqueue", Packages: []string{"postfix"}, Dirs: []string{"/usr/sbin"}}
	// PostfixSendmail is Postfix's sendmail(1), how mail is submitted to
	// a private instance (-C its configuration).
	PostfixSendmail = Peer{Name: "sendmail", Packages: []string{"postfix"}, Dirs: []string{"/usr/sbin"}}
	// PostfixMaster is the daemon a private Postfix instance runs.
	PostfixMaster = Peer{Name: "master", Packages: []string{"postfix"}, Dirs: []string{"/usr/lib/postfix/sbin"}}
	// MTASTSDaemon is Debian's postfix-mta-sts-resolver: the socketmap
	// service that gives Postfix each domain's MTA-STS policy (RFC 8461).
	// The probe loads its Python modules (aiohttp, aiodns), which a
	// half-installed package lacks.
	MTASTSDaemon = Peer{Name: "mta-sts-daemon", Packages: []string{"postfix-mta-sts-resolver"}, Probe: mtaSTSDaemonLoads}
	Unshare      = Peer{Name: "unshare", Packages: []string{"util-linux"}}
	// Chromium is the real browser of the web UI's tests (driven
	// headless through the DevTools protocol).
	Chromium = Peer{Name: "chromium", Packages: []string{"chromium"}}
	// Curl is the HTTP client of the API's examples.
	Curl = Peer{Name: "curl", Packages: []string{"curl"}}
	// Jq reads the lab's JSON in the example CI scripts.
	Jq = Peer{Name: "jq", Packages: []string{"jq"}}
	// Podman builds the image (make image) without a daemon; containers
	// cannot run on the machines the suite was built on, so the tests
	// only build and inspect.
	Podman = Peer{Name: "podman", Packages: []string{"podman"}}
	// DockerCompose validates compose.yaml (docker-compose config).
	DockerCompose = Peer{Name: "docker-compose", Packages: []string{"docker-compose"}}
	// Make runs the Makefile's targets (make image, the example scripts).
	Make = Peer{Name: "make", Packages: []string{"make"}}
	// Setpriv runs a program as another user, as an image's USER does.
	Setpriv = Peer{Name: "setpriv", Packages: []string{"util-linux"}}
)

// probeTimeout bounds one probe run.
const probeTimeout = 30 * time.Second

type found struct {
	path string
	err  error
}

var cache sync.Map // Peer.Name -> found

// Need returns the path of a peer that is present and passes its probe.
// Otherwise the test ends as the mode says, with the install command.
func Need(t testing.TB, p Peer) string {
	t.Helper()
	Enabled(t)
	f := p.find()
	if f.err != nil {
		missing(t, f.err.Error(), p.Hint())
	}
	return f.path
}

// Optional returns a peer's path for a test that can do without it (it
// has a Go fallback): "" when real peers are off, or when the peer is
// missing in auto mode. In require mode a missing peer fails the test, as
// with Need.
func Optional(t testing.TB, p Peer) string {
	t.Helper()
	mode, err := CurrentMode()
	if err != nil {
		t.Fatal(err)
	}
	if mode == ModeOff {
		return ""
	}
	f := p.find()
	if f.err != nil {
		if mode == ModeRequire {
			missing(t, f.err.Error(), p.Hint())
		}
		report(t.Name(), f.err.Error()+" (used the Go fallback instead)")
		return ""
	}
	return f.path
}

// Hint is the command that installs the peer.
func (p Peer) Hint() string {
	return "run " + InstallScript + " (apt-get install -y " + strings.Join(p.Packages, " ") + ")"
}

func (p Peer) find() found {
	if v, ok := cache.Load(p.Name); ok {
		return v.(found)
	}
	f := found{}
	f.path, f.err = p.locate()
	if f.err == nil && p.Probe != nil {
		if err := p.Probe(f.path); err != nil {
			f.err = fmt.Errorf("%s cannot do what the tests need: %w", p.Name, err)
		}
	}
	v, _ := cache.LoadOrStore(p.Name, f)
	return v.(found)
}

func (p Peer) locate() (string, error) {
	if path, err := exec.LookPath(p.Name); err == nil {
		return path, nil
	}
	for _, d := range p.Dirs {
		path := filepath.Join(d, p.Name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s is not installed", p.Name)
}

// swaksTLS asks swaks what it supports ("=== TLS supported", or "*** TLS
// not available: requires Net::SSLeay").
func swaksTLS(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "--support").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "=== TLS supported") {
			return nil
		}
		if strings.Contains(line, "TLS not available") {
			return errors.New(strings.TrimSpace(strings.TrimPrefix(line, "***")))
		}
	}
	return fmt.Errorf("swaks --support did not list TLS: %q", out)
}

// mtaSTSDaemonLoads runs `mta-sts-daemon --help`, which imports the
// daemon's modules before it prints its usage.
func mtaSTSDaemonLoads(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--config") {
		return fmt.Errorf("mta-sts-daemon --help: %v: %q", err, out)
	}
	return nil
}

// NeedRoot is for tests that must be root (network namespaces, a private
// Postfix instance).
func NeedRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "needs root (ip netns add, a private Postfix)", "run the test as root")
}

// NeedNetns is for tests that make a network namespace: root and ip.
func NeedNetns(t testing.TB) {
	t.Helper()
	NeedRoot(t)
	Need(t, IP)
}
