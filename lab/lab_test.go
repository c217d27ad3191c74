package lab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/internal/warmstate"
	"github.com/mxlab/mxlab/scenarios"
)

func startTest(t testing.TB, state string, edit func(*Config)) *Lab {
	t.Helper()
	cfg := Config{StateDir: state, DNS: "127.0.0.1:0", Addressing: Addressing{Ephemeral: true}, SessionsFile: "-"}
	if edit != nil {
		edit(&cfg)
	}
	l, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := warm.Keep(state); err != nil {
		t.Fatal(err)
	}
	return l
}

// warm is the first test lab's state (keys, seed): most tests here are
// not about key generation, which is nearly all of a cold start.
var warm warmstate.Cache

// warmDir is a new state directory seeded from warm (empty until a lab
// has started). Tests about fresh state use t.TempDir().
func warmDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := warm.Seed(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func query(t testing.TB, server, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	// The zone is signed and DO is set: the RRSIGs are checked in
	// dnssec_test.go, the data here.
	var data []dns.RR
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != dns.TypeRRSIG {
			data = append(data, rr)
		}
	}
	r.Answer = data
	return r
}

func TestLayoutAndDNS(t *testing.T) {
	state := warmDir(t)
	manifest := filepath.Join(t.TempDir(), "lab.json")
	l := startTest(t, state, func(c *Config) { c.Manifest = manifest })
	layout := l.Layout()
	got, err := ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if got.DNS != layout.DNS || len(got.Scenarios) != len(layout.Scenarios) || len(layout.Scenarios) != len(builtinNames(t)) || got.CACert != layout.CACert {
		t.Errorf("manifest %+v", got)
	}
	ca, err := certs.ReadCerts(layout.CACert)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range layout.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			if p := portString(s); strconv.Itoa(layout.PortFor(s.MX)) != p || strconv.Itoa(got.PortFor(s.MX+".")) != p {
				t.Errorf("PortFor(%s) = %d (manifest: %d), want %s", s.MX, layout.PortFor(s.MX), got.PortFor(s.MX+"."), p)
			}
			if !strings.HasSuffix(s.MX, "."+s.Domain) || s.Domain != s.Name+".mxlab.test" {
				t.Errorf("names %s %s", s.Domain, s.MX)
			}
			// MX for the domain and for any name below it.
			for _, name := range []string{s.Domain, "rep7." + s.Domain} {
				r := query(t, layout.DNS, name, dns.TypeMX)
				if len(r.Answer) != 1 || r.Answer[0].(*dns.MX).Mx != s.MX+"." || r.AuthenticatedData != s.Authenticated {
					t.Errorf("MX %s: %v (ad=%v)", name, r.Answer, r.AuthenticatedData)
				}
			}
			r := query(t, layout.DNS, s.MX, dns.TypeA)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != s.Addr().Addr().String() {
				t.Errorf("A %s: %v, want %s", s.MX, r.Answer, s.Addr().Addr())
			}
			tlsa := query(t, layout.DNS, "_"+portString(s)+"._tcp."+s.MX, dns.TypeTLSA)
			if slices.Contains(s.scenario.DNS.Bogus, scenarios.BogusTLSA) {
				// What a validating resolver answers for a bogus
				// RRset, and so the lab in its default ad mode.
				if tlsa.Rcode != dns.RcodeServerFailure || len(tlsa.Answer) != 0 {
					t.Errorf("bogus TLSA: rcode %s, %v; want SERVFAIL", dns.RcodeToString[tlsa.Rcode], tlsa.Answer)
				}
				return
			}
			switch s.scenario.DNS.TLSA {
			case scenarios.TLSACurrent, scenarios.TLSAPrevious:
				if len(tlsa.Answer) != 1 || len(s.TLSA) != 2 {
					t.Fatalf("TLSA: %v, layout %v", tlsa.Answer, s.TLSA)
				}
				served, err := certs.ReadCerts(s.CertPath)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := certs.NewTLSA(served[0], 3, 1, 1)
				rec := tlsa.Answer[0].(*dns.TLSA)
				matches := rec.Certificate == want.Data
				if matches != (s.scenario.DNS.TLSA == scenarios.TLSACurrent) {
					t.Errorf("TLSA %s matches the served key: %v", rec.Certificate, matches)
				}
				if err := served[0].CheckSignatureFrom(ca[0]); err != nil {
					t.Errorf("certificate not from the lab CA: %v", err)
				}
			default:
				if len(tlsa.Answer) != 0 || tlsa.Rcode != dns.RcodeNameError || !tlsa.AuthenticatedData {
					t.Errorf("TLSA where none is published: %v rcode %d ad %v", tlsa.Answer, tlsa.Rcode, tlsa.AuthenticatedData)
				}
			}
		})
	}
	if p := layout.PortFor("mx.example.org"); p != 0 {
		t.Errorf("PortFor of a foreign host = %d", p)
	}
	sni, _ := layout.Site("sni-reject")
	if !regexp.MustCompile(`^_dc-mx\.[0-9a-f]{12}\.sni-reject\.mxlab\.test$`).MatchString(sni.MX) || sni.Host != "mail.sni-reject.mxlab.test" {
		t.Errorf("sni-reject names %q %q", sni.MX, sni.Host)
	}
	if r := query(t, layout.DNS, sni.Host, dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("origin host A: %v", r.Answer)
	}
	if r := query(t, layout.DNS, "example.org", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("outside the zone: rcode %d", r.Rcode)
	}
}

func portString(s *Site) string {
	_, p, _ := net.SplitHostPort(s.SMTP)
	return p
}

// TestStableAcrossRestarts: keys, the _dc-mx name and so the TLSA records
// survive a restart on the same state directory, and differ on another.
func TestStableAcrossRestarts(t *testing.T) {
	state := warmDir(t)
	l1 := startTest(t, state, nil)
	a, _ := l1.Layout().Site("sni-reject")
	b1, _ := l1.Layout().Site("baseline")
	l1.Close()
	l2 := startTest(t, state, nil)
	a2, _ := l2.Layout().Site("sni-reject")
	b2, _ := l2.Layout().Site("baseline")
	if a.MX != a2.MX || b1.TLSA[1] != b2.TLSA[1] {
		t.Errorf("changed across restarts: %s/%s, %v/%v", a.MX, a2.MX, b1.TLSA[1], b2.TLSA[1])
	}
	l3 := startTest(t, t.TempDir(), nil)
	a3, _ := l3.Layout().Site("sni-reject")
	if a3.MX == a.MX {
		t.Errorf("two state directories share the _dc-mx name %s", a.MX)
	}
}

func TestBindErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	_, err = Start(Config{StateDir: warmDir(t), DNS: "127.0.0.1:0", SessionsFile: "-",
		Addressing: Addressing{Port: port, Net: "127.0.0.0/24"}, Scenarios: []string{"baseline", "sni-reject"}})
	if !errors.Is(err, ErrBind) || !strings.Contains(err.Error(), "scenario baseline") || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("err = %v, want ErrBind naming the scenario and %s", err, busy.Addr())
	}
	// Nothing stays bound after a failed start.
	if ln, err := net.Listen("tcp", "127.0.0.2:"+portOf(busy.Addr())); err != nil {
		t.Errorf("sni-reject's address is still bound: %v", err)
	} else {
		ln.Close()
	}
	dnsBusy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dnsBusy.Close()
	_, err = Start(Config{StateDir: warmDir(t), DNS: dnsBusy.LocalAddr().String(), SessionsFile: "-", Addressing: Addressing{Ephemeral: true}})
	if !errors.Is(err, ErrBind) {
		t.Errorf("busy DNS port: err = %v, want ErrBind", err)
	}
}

func portOf(a net.Addr) string { _, p, _ := net.SplitHostPort(a.String()); return p }

func TestSharedPortLayout(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.9.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	l := startTest(t, warmDir(t), func(c *Config) {
		c.Addressing = Addressing{Port: port, Net: "127.0.9.0/24"}
	})
	for i, s := range l.Layout().Scenarios {
		want := fmt.Sprintf("127.0.9.%d:%s", i+1, portOf(probe.Addr()))
		if s.SMTP != want {
			t.Errorf("%s at %s, want %s", s.Name, s.SMTP, want)
		}
		// TLSA at the real port and at _25.
		if len(s.TLSA) == 2 && !strings.HasPrefix(s.TLSA[0].Owner, "_"+portOf(probe.Addr())+"._tcp.") {
			t.Errorf("TLSA owner %s", s.TLSA[0].Owner)
		}
	}
	n := len(l.Layout().Scenarios)
	if _, err := Plan(Config{StateDir: t.TempDir(), Addressing: Addressing{Port: 25, Net: "127.0.9.0/30"}}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("has no address for scenario 4 of %d", n)) {
		t.Errorf("a /30 cannot hold %d scenarios: %v", n, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown scenario", Config{Scenarios: []string{"sni-rejekt"}}, `unknown name "sni-rejekt" (valid: baseline, no-starttls, sni-reject`},
		{"bad zone", Config{Zone: "not a zone"}, `zone "not a zone" is not a domain name`},
		{"bad record", Config{Records: []string{"x A 1.2.3"}}, `records[0] "x A 1.2.3"`},
		{"record outside zone", Config{Records: []string{"example.org. A 127.0.0.1"}}, "example.org"},
		{"bad host", Config{Addressing: Addressing{Host: "localhost"}}, `smtp host "localhost": want an IP address`},
		{"shared port without net", Config{Addressing: Addressing{Port: 25}}, "needs a network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.StateDir = warmDir(t)
			tt.cfg.DNS = "127.0.0.1:0"
			tt.cfg.SessionsFile = "-"
			if tt.cfg.Addressing == (Addressing{}) {
				tt.cfg.Addressing.Ephemeral = true
			}
			l, err := Start(tt.cfg)
			if err == nil {
				l.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExtraRecordsAndInsecure(t *testing.T) {
	dir := t.TempDir()
	user := "name: unsigned\nsummary: an unsigned zone\nimitates: postfix\ndns:\n  authenticated: false\n"
	if err := os.WriteFile(filepath.Join(dir, "unsigned.yaml"), []byte(user), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := scenarios.Load([]string{dir}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	l := startTest(t, warmDir(t), func(c *Config) {
		c.Catalogue = cat
		c.Scenarios = []string{"baseline", "unsigned"}
		c.Records = []string{"exim A 127.0.2.1", "exim.mxlab.test. MX 10 exim.mxlab.test."}
	})
	if r := query(t, l.Layout().DNS, "exim.mxlab.test", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("extra A: %v", r.Answer)
	}
	if r := query(t, l.Layout().DNS, "unsigned.mxlab.test", dns.TypeMX); len(r.Answer) != 1 || r.AuthenticatedData {
		t.Errorf("unsigned MX: %v ad=%v", r.Answer, r.AuthenticatedData)
	}
	if r := query(t, l.Layout().DNS, "baseline.mxlab.test", dns.TypeMX); !r.AuthenticatedData {
		t.Error("baseline lost AD")
	}
}

// BenchmarkStartWarm measures the time from Start to a written manifest
// with a warm state directory (keys and certificates exist).
func BenchmarkStartWarm(b *testing.B) {
	state := b.TempDir()
	manifest := filepath.Join(b.TempDir(), "lab.json")
	cfg := Config{StateDir: state, DNS: "127.0.0.1:0", Addressing: Addressing{Ephemeral: true}, SessionsFile: "-", Manifest: manifest}
	l, err := Start(cfg) // warm the state directory
	if err != nil {
		b.Fatal(err)
	}
	l.Close()
	b.ResetTimer()
	for b.Loop() {
		l, err := Start(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}

// TestHealth: a running lab is healthy (its DNS answers the question
// Health asks); a closed one says so.
func TestHealth(t *testing.T) {
	l := startTest(t, warmDir(t), func(c *Config) { c.Scenarios = []string{"baseline"} })
	if err := l.Health(); err != nil {
		t.Fatalf("running lab: %v", err)
	}
	l.Close()
	if err := l.Health(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("closed lab: %v", err)
	}
}

// builtinNames are the built-in catalogue's scenario names, which a lab
// with no Scenarios setting runs.
func builtinNames(t *testing.T) []string {
	t.Helper()
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Names()
}
