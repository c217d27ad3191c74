package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// Issue 12: real MTAs get their AD bit from a real validating resolver
// with the lab's trust anchor, not from the lab. In these worlds the lab
// serves its signed zone in `signed` mode (it never sets AD) on
// 127.0.0.2:53, and unbound, on 127.0.0.1:53 (the namespace's resolver,
// so Postfix's and Exim's), validates it from `mxlab trust-anchor`.
// `mxlab send` asks unbound too (--resolver).

// validatorDNS is where unbound listens: the namespace's resolver.
const validatorDNS = "127.0.0.1:53"

// newValidatedWorld is newWorld with unbound between the MTAs and the lab.
func newValidatedWorld(t *testing.T) *world {
	t.Helper()
	unbound := realpeer.Need(t, realpeer.Unbound)
	w := newWorldOf(t, &world{
		labDNS:    "127.0.0.2:53",
		serveArgs: []string{"--dnssec", "signed"},
		sendArgs:  []string{"--resolver", validatorDNS},
	}, nil)
	w.startUnbound(t, unbound)
	return w
}

// startUnbound runs unbound in the namespace with the lab's trust anchor
// (from `mxlab trust-anchor`, which also checks that the lab serves that
// key) and a stub zone for the lab's zone, and waits until it answers
// with AD for the zone's apex.
func (w *world) startUnbound(t *testing.T, unbound string) {
	t.Helper()
	dir := t.TempDir()
	anchor, code := w.nsRun(t, 20*time.Second, "", w.bin, "trust-anchor", "--lab", w.manifest, "--format", "zone")
	if code != 0 {
		t.Fatalf("interop: mxlab trust-anchor: exit %d: %s", code, anchor)
	}
	anchorFile := filepath.Join(dir, "anchor.zone")
	if err := os.WriteFile(anchorFile, []byte(anchor), 0o644); err != nil {
		t.Fatal(err)
	}
	zone := w.layout.Zone
	host, port, _ := strings.Cut(w.labDNS, ":")
	// No chroot, no user change, no remote control, logs on standard
	// error (-d); "test." is one of unbound's default local zones (RFC
	// 6761): transparent lets the stub zone answer.
	conf := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: 53
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	username: ""
	chroot: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: ""
	verbosity: 1
	val-log-level: 2
	num-threads: 1
	cache-max-ttl: 1
	cache-max-negative-ttl: 1
	trust-anchor-file: %q
	local-zone: "%s." transparent
remote-control:
	control-enable: no
stub-zone:
	name: "%s."
	stub-addr: %s@%s
`, dir, filepath.Join(dir, "unbound.pid"), anchorFile, zone, zone, host, port)
	confFile := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := w.startDaemon(t, nil, nil, unbound, "-d", "-c", confFile)
	out, done := d.out, d.done
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("unbound said:\n%s", out.String())
		}
	})
	// Ready when it answers the zone's SOA with AD (the chain from the
	// anchor validated); bounded, decided by the answer.
	deadline := time.Now().Add(30 * time.Second)
	for {
		stdout, _, code, err := w.command(10*time.Second, "", "dig", "+dnssec", "+tries=1", "+time=2", "@127.0.0.1", zone, "SOA")
		if err == nil && code == 0 && strings.Contains(stdout, "status: NOERROR") && strings.Contains(stdout, " ad") {
			return
		}
		select {
		case <-done:
			t.Fatalf("interop: unbound ended:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("interop: unbound gave no validated answer for %s within 30s:\n%s\n%s", zone, stdout, out.String())
		}
	}
}

// TestFidelityPostfixValidated is TestFidelityPostfix at dane with the
// AD bit from unbound: every MX scenario, dnssec-bogus's SERVFAIL and
// unsigned-zone's insecure delegation included.
func TestFidelityPostfixValidated(t *testing.T) {
	began := time.Now()
	tools := needPostfix(t)
	realpeer.Need(t, realpeer.Dig)
	w := newValidatedWorld(t)
	fidelityPostfix(t, w, tools, []string{"dane"}, began, ", AD from unbound (the lab in signed mode)", "MXLAB_FIDELITY_REPORT_VALIDATED")
}

// TestFidelityEximValidated is TestFidelityExim with the AD bit from
// unbound.
func TestFidelityEximValidated(t *testing.T) {
	began := time.Now()
	root := unpackDebs(t, eximPkgs...)
	realpeer.Need(t, realpeer.Dig)
	w := newValidatedWorld(t)
	fidelityExim(t, w, root, began, ", AD from unbound (the lab in signed mode)", "MXLAB_FIDELITY_REPORT_EXIM_VALIDATED")
}
