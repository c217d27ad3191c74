package lab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/scenarios"
)

// The real validators' verdicts. delv's are the comments and failures of
// BIND 9.18's delv source; unbound's is the AD bit and the RCODE.
const (
	delvSecure   = "; fully validated"
	delvUnsigned = "; unsigned answer"
	delvNegative = "; negative response, fully validated"
	delvBogus    = ";; resolution failed: RRSIG failed to verify"
)

// question is one name a validator is asked about, and what it must say.
type question struct {
	name  string
	qtype uint16
	// verdict is delv's line; for unbound, delvSecure and delvNegative
	// mean AD, delvUnsigned an answer without AD, delvBogus SERVFAIL.
	verdict string
	rcode   int
}

// validatorQuestions are the names of every scenario a sender asks for,
// with the verdict a validator with the lab's trust anchor must reach:
// the domain's MX, a name answered by the wildcard MX, the MX host's
// address, every TLSA owner (or, with none, the NXDOMAIN a DANE sender
// gets), and a name that does not exist. unsigned-zone is an insecure
// delegation: answers, unsigned; dnssec-bogus's TLSA does not verify.
func validatorQuestions(l *Layout) []question {
	var qs []question
	for _, s := range l.Scenarios {
		verdict := delvSecure
		if !s.Authenticated {
			verdict = delvUnsigned
		}
		qs = append(qs,
			question{s.Domain, dns.TypeMX, verdict, dns.RcodeSuccess},
			question{"anything." + s.Domain, dns.TypeMX, verdict, dns.RcodeSuccess},
			question{s.MX, dns.TypeA, verdict, dns.RcodeSuccess})
		tlsaVerdict := verdict
		if slices.Contains(s.scenario.DNS.Bogus, scenarios.BogusTLSA) {
			tlsaVerdict = delvBogus
		}
		for _, t := range s.TLSA {
			qs = append(qs, question{t.Owner, dns.TypeTLSA, tlsaVerdict, dns.RcodeSuccess})
		}
		if len(s.TLSA) == 0 {
			qs = append(qs, question{"_25._tcp." + s.MX, dns.TypeTLSA, delvNegative, dns.RcodeNameError})
		}
	}
	return append(qs,
		question{"nope." + l.Zone, dns.TypeMX, delvNegative, dns.RcodeNameError},
		question{"ns." + l.Zone, dns.TypeAAAA, delvNegative, dns.RcodeSuccess})
}

// writeAnchor writes the layout's trust anchor in format f to a file of
// the test.
func writeAnchor(t *testing.T, l *Layout, f dnslab.AnchorFormat, dir string) string {
	t.Helper()
	text, err := l.TrustAnchor.Format(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "anchor."+string(f))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDelvValidatesTheLab runs delv, BIND's validator, with the manifest's
// trust anchor against a lab in the signed mode: every scenario's MX,
// wildcard MX, address and TLSA records validate from the anchor ("fully
// validated"), and so do the denials; unsigned-zone's answers are
// "unsigned"; dnssec-bogus's TLSA fails ("RRSIG failed to verify"). dig
// +dnssec shows the RRSIGs delv checked.
func TestDelvValidatesTheLab(t *testing.T) {
	delv := realpeer.Need(t, realpeer.Delv)
	dig := realpeer.Need(t, realpeer.Dig)
	l := startTest(t, warmDir(t), func(c *Config) { c.DNSSEC = dnslab.ModeSigned })
	layout := l.Layout()
	host, port, err := net.SplitHostPort(layout.DNS)
	if err != nil {
		t.Fatal(err)
	}
	anchor := writeAnchor(t, layout, dnslab.AnchorDelv, t.TempDir())
	for _, q := range validatorQuestions(layout) {
		t.Run(q.name+"/"+dns.TypeToString[q.qtype], func(t *testing.T) {
			r := realpeer.Run(t, realpeer.Cmd{Path: delv, Args: []string{
				"@" + host, "-p", port, "-a", anchor, "+root=" + layout.Zone, q.name, dns.TypeToString[q.qtype],
			}})
			lines := strings.Split(r.All(), "\n")
			if !slices.ContainsFunc(lines, func(l string) bool { return l == q.verdict || strings.HasPrefix(l, q.verdict+" ") }) {
				t.Errorf("delv did not say %q:\n%s", q.verdict, r.All())
			}
			if q.verdict == delvSecure && !strings.Contains(r.Stdout, "\tIN\t"+dns.TypeToString[q.qtype]) && !strings.Contains(r.Stdout, " IN\t"+dns.TypeToString[q.qtype]) && !strings.Contains(r.Stdout, "IN "+dns.TypeToString[q.qtype]) {
				t.Errorf("delv printed no %s record:\n%s", dns.TypeToString[q.qtype], r.Stdout)
			}
		})
	}
	baseline, err := layout.Site("baseline")
	if err != nil {
		t.Fatal(err)
	}
	r := realpeer.Run(t, realpeer.Cmd{Path: dig, Args: []string{"@" + host, "-p", port, "+dnssec", "+norecurse", "+time=5", "+tries=1", baseline.TLSA[0].Owner, "TLSA"}})
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(baseline.TLSA[0].Owner)+`\.\s+1\s+IN\s+RRSIG\s+TLSA 13 6 1 `).MatchString(r.Stdout) || !strings.Contains(r.Stdout, ";; flags: qr aa;") {
		t.Errorf("dig +dnssec shows no RRSIG over the TLSA, or flags other than qr aa (no ad, no ra in the signed mode):\n%s", r.Stdout)
	}
}

// TestUnboundValidatesTheLab puts unbound, a validating resolver, in front
// of a lab in the signed mode, as a real MTA's resolver: both run in a
// network namespace of the test, unbound with the manifest's trust anchor
// (trust-anchor-file) and a stub zone for the lab's zone at the lab's DNS
// server. Unbound must answer every scenario's MX, address and TLSA with
// AD, each denial with AD, unsigned-zone's names without AD (an insecure
// delegation), and dnssec-bogus's TLSA with SERVFAIL.
func TestUnboundValidatesTheLab(t *testing.T) {
	unbound := realpeer.Need(t, realpeer.Unbound)
	ns := netns.New(t)
	state := warmDir(t)
	var l *Lab
	inNamespace(t, ns, func() error {
		var err error
		l, err = Start(Config{StateDir: state, DNS: "127.0.0.1:0", Addressing: Addressing{Ephemeral: true}, SessionsFile: "-", DNSSEC: dnslab.ModeSigned})
		return err
	})
	t.Cleanup(func() { l.Close() })
	layout := l.Layout()
	_, labPort, err := net.SplitHostPort(layout.DNS)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	anchor := writeAnchor(t, layout, dnslab.AnchorZone, dir)
	conf := filepath.Join(dir, "unbound.conf")
	// Port 53 of the namespace's loopback is the test's alone. No
	// chroot, no user change, no remote control, logs on standard error
	// (-d), the pid file in the test's directory: nothing of the
	// machine's unbound is used. "test." is one of unbound's default
	// local zones (RFC 6761): transparent lets the stub zone answer.
	cfg := fmt.Sprintf(`server:
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
	trust-anchor-file: %q
	local-zone: "%s." transparent
remote-control:
	control-enable: no
stub-zone:
	name: "%s."
	stub-addr: 127.0.0.1@%s
`, dir, filepath.Join(dir, "unbound.pid"), anchor, layout.Zone, layout.Zone, labPort)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := ns.Start(t, unbound, "-d", "-c", conf)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("unbound said:\n%s", proc.Output())
		}
	})
	// Unbound logs "start of service" once it listens; the wait is
	// bounded, the verdicts come from what it answers.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(proc.Output(), "start of service"); time.Sleep(20 * time.Millisecond) {
		if proc.Cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("unbound did not start:\n%s", proc.Output())
		}
	}

	for _, q := range validatorQuestions(layout) {
		t.Run(q.name+"/"+dns.TypeToString[q.qtype], func(t *testing.T) {
			r := askInNamespace(t, ns, q.name, q.qtype)
			wantCode, wantAD := q.rcode, q.verdict == delvSecure || q.verdict == delvNegative
			if q.verdict == delvBogus {
				wantCode = dns.RcodeServerFailure
			}
			if r.Rcode != wantCode || r.AuthenticatedData != wantAD {
				t.Errorf("rcode %s ad %v, want %s ad %v\n%v", dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[wantCode], wantAD, r)
			}
			if wantCode == dns.RcodeSuccess && q.verdict != delvNegative && !slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == q.qtype }) {
				t.Errorf("no %s in the answer: %v", dns.TypeToString[q.qtype], r)
			}
			t.Logf("unbound answered:\n%v", r)
		})
	}
}

// askInNamespace asks the namespace's resolver on 127.0.0.1:53, over TCP
// from a socket made inside the namespace, with DO as a DANE MTA asks.
func askInNamespace(t *testing.T, ns *netns.NS, name string, qtype uint16) *dns.Msg {
	t.Helper()
	conn, err := ns.Dial("127.0.0.1:53", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	co := &dns.Conn{Conn: conn}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, true)
	if err := co.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	r, err := co.ReadMsg()
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// inNamespace runs start on an OS thread switched into the namespace, so
// that the sockets it opens (the lab's listeners) belong to the namespace
// and are reached at its 127.0.0.1; goroutines it starts run elsewhere
// but serve those sockets. The thread is never unlocked: it ends with its
// goroutine, and nothing else ever runs in the namespace.
func inNamespace(t *testing.T, ns *netns.NS, start func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns.Name))
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", ns.Name, err)
			return
		}
		done <- start()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
