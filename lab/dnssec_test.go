package lab

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// TestDNSSECKeysPersist checks the keys are made once, saved 0600 in
// <state>/dnssec, and reused: the trust anchor of a second start, and of
// PlanTrustAnchor, is the first's, and it is the KSK the lab serves.
func TestDNSSECKeysPersist(t *testing.T) {
	state := t.TempDir()
	first, err := PlanTrustAnchor(Config{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{kskFile, zskFile} {
		fi, err := os.Stat(filepath.Join(state, dnssecDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	zsk, err := os.ReadFile(filepath.Join(state, dnssecDir, zskFile))
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "lab.json")
	l := startTest(t, state, func(c *Config) { c.Manifest = manifest; c.Scenarios = []string{"baseline"} })
	if *l.Layout().TrustAnchor != *first {
		t.Errorf("the lab's anchor %+v, want the planned %+v", l.Layout().TrustAnchor, first)
	}
	got, err := ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if got.TrustAnchor == nil || *got.TrustAnchor != *first || got.DNSSEC != dnslab.ModeAD {
		t.Errorf("manifest trust_anchor %+v dnssec %q", got.TrustAnchor, got.DNSSEC)
	}
	if err := CheckTrustAnchor(got, 5*time.Second); err != nil {
		t.Errorf("CheckTrustAnchor of the running lab: %v", err)
	}
	// The saved ZSK is the one served.
	zskKey, err := dnslab.ParseKey(zsk)
	if err != nil {
		t.Fatal(err)
	}
	r := query(t, l.Layout().DNS, "mxlab.test", dns.TypeDNSKEY)
	if !slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.(*dns.DNSKEY).PublicKey == zskKey.DNSKEY.PublicKey }) {
		t.Errorf("the served DNSKEYs %v lack the saved ZSK", r.Answer)
	}
	again, err := PlanTrustAnchor(Config{StateDir: state})
	if err != nil || *again != *first {
		t.Errorf("a second plan: %+v, %v; want %+v", again, err, first)
	}
}

// TestDNSSECKeysBroken checks a key file that is not the key it names is
// an error naming the file (the anchor depends on it, so it is never
// replaced silently), and that a missing ZSK is made anew without
// changing the anchor.
func TestDNSSECKeysBroken(t *testing.T) {
	seeded := func(t *testing.T) (string, *TrustAnchor) {
		state := t.TempDir()
		a, err := PlanTrustAnchor(Config{StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		return state, a
	}
	t.Run("garbage", func(t *testing.T) {
		state, _ := seeded(t)
		path := filepath.Join(state, dnssecDir, kskFile)
		if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := PlanTrustAnchor(Config{StateDir: state})
		if !errors.Is(err, ErrConfig) || !errors.Is(err, dnslab.ErrBadKey) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it") {
			t.Errorf("err %v, want ErrConfig and ErrBadKey naming %s", err, path)
		}
	})
	t.Run("the zsk in the ksk's file", func(t *testing.T) {
		state, _ := seeded(t)
		zsk, err := os.ReadFile(filepath.Join(state, dnssecDir, zskFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, dnssecDir, kskFile), zsk, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := PlanTrustAnchor(Config{StateDir: state}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "flags 256, want 257") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("a missing zsk", func(t *testing.T) {
		state, anchor := seeded(t)
		if err := os.Remove(filepath.Join(state, dnssecDir, zskFile)); err != nil {
			t.Fatal(err)
		}
		again, err := PlanTrustAnchor(Config{StateDir: state})
		if err != nil || *again != *anchor {
			t.Errorf("%+v, %v; want the anchor kept, %+v", again, err, anchor)
		}
		if _, err := os.Stat(filepath.Join(state, dnssecDir, zskFile)); err != nil {
			t.Errorf("no new zsk: %v", err)
		}
	})
}

// TestCheckTrustAnchor checks a manifest's anchor is compared with the
// key the lab serves: the running lab's passes; another lab's key, a
// manifest without trust_anchor, and a lab that has stopped are stale.
func TestCheckTrustAnchor(t *testing.T) {
	l := startTest(t, warmDir(t), func(c *Config) { c.Scenarios = []string{"baseline"} })
	layout := *l.Layout()
	if err := CheckTrustAnchor(&layout, 5*time.Second); err != nil {
		t.Fatalf("the running lab: %v", err)
	}
	other, err := PlanTrustAnchor(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		anchor *TrustAnchor
		want   string
	}{
		{"another lab's key", other, "not the manifest's key"},
		{"no trust_anchor", nil, "the manifest has no trust_anchor"},
		{"a DS of another key", &TrustAnchor{DS: other.DS, DNSKEY: layout.TrustAnchor.DNSKEY}, "is not the DNSKEY's"},
	} {
		stale := layout
		stale.TrustAnchor = c.anchor
		if err := CheckTrustAnchor(&stale, 5*time.Second); !errors.Is(err, ErrStaleAnchor) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrStaleAnchor saying %q", c.name, err, c.want)
		}
	}
	l.Close()
	if err := CheckTrustAnchor(&layout, 5*time.Second); !errors.Is(err, ErrStaleAnchor) || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("a stopped lab: %v", err)
	}
}

// TestDNSSECModes checks the lab's two modes end to end: both serve
// RRSIGs; ad sets AD itself and answers SERVFAIL for dnssec-bogus's TLSA;
// signed never sets AD and serves the bogus signature. An unknown mode is
// a configuration error.
func TestDNSSECModes(t *testing.T) {
	state := warmDir(t)
	for _, c := range []struct {
		mode      dnslab.Mode
		ad        bool
		bogusCode int
	}{
		{"", true, dns.RcodeServerFailure},
		{dnslab.ModeAD, true, dns.RcodeServerFailure},
		{dnslab.ModeSigned, false, dns.RcodeSuccess},
	} {
		t.Run(string(c.mode), func(t *testing.T) {
			l := startTest(t, state, func(cfg *Config) {
				cfg.DNSSEC = c.mode
				cfg.Scenarios = []string{"baseline", "dnssec-bogus", "unsigned-zone"}
			})
			layout := l.Layout()
			if want := c.mode; layout.DNSSEC != want && !(want == "" && layout.DNSSEC == dnslab.ModeAD) {
				t.Errorf("layout dnssec %q", layout.DNSSEC)
			}
			r := rawQuery(t, layout.DNS, "baseline.mxlab.test", dns.TypeMX)
			if r.AuthenticatedData != c.ad || !hasType(r.Answer, dns.TypeRRSIG) {
				t.Errorf("baseline MX: ad %v, RRSIG %v: %v", r.AuthenticatedData, hasType(r.Answer, dns.TypeRRSIG), r)
			}
			bogus, _ := layout.Site("dnssec-bogus")
			r = rawQuery(t, layout.DNS, bogus.TLSA[0].Owner, dns.TypeTLSA)
			if r.Rcode != c.bogusCode || r.AuthenticatedData {
				t.Errorf("dnssec-bogus TLSA: rcode %s ad %v", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
			}
			unsigned, _ := layout.Site("unsigned-zone")
			r = rawQuery(t, layout.DNS, unsigned.MX, dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || r.AuthenticatedData || hasType(r.Answer, dns.TypeRRSIG) || unsigned.Authenticated {
				t.Errorf("unsigned-zone A: %v (site authenticated %v)", r, unsigned.Authenticated)
			}
			// The parent proves the delegation insecure: no DS, an NSEC.
			r = rawQuery(t, layout.DNS, unsigned.Domain, dns.TypeDS)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !hasType(r.Ns, dns.TypeNSEC) {
				t.Errorf("unsigned-zone DS: %v", r)
			}
		})
	}
	if _, err := Start(Config{StateDir: state, DNS: "127.0.0.1:0", Addressing: Addressing{Ephemeral: true}, SessionsFile: "-", DNSSEC: "validating"}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `dnssec mode "validating"`) {
		t.Errorf("an unknown mode: %v", err)
	}
}

// rawQuery asks with DO and returns the whole response, RRSIGs included.
func rawQuery(t testing.TB, server, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

func hasType(rrs []dns.RR, t uint16) bool {
	return slices.ContainsFunc(rrs, func(rr dns.RR) bool { return rr.Header().Rrtype == t })
}

// TestTrustAnchorFormat checks the manifest's anchor prints in each
// format and that a malformed one is an error.
func TestTrustAnchorFormat(t *testing.T) {
	a, err := PlanTrustAnchor(Config{StateDir: t.TempDir(), Zone: "Lab.Example."})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.DS, "lab.example. 3600 IN DS ") || !strings.HasPrefix(a.DNSKEY, "lab.example. 3600 IN DNSKEY 257 3 13 ") {
		t.Errorf("anchor %+v", a)
	}
	for _, f := range dnslab.AnchorFormats {
		text, err := a.Format(f)
		if err != nil || !strings.Contains(text, "lab.example.") {
			t.Errorf("%s: %q, %v", f, text, err)
		}
	}
	if _, err := (&TrustAnchor{DS: "x", DNSKEY: a.DNSKEY}).Format(dnslab.AnchorZone); err == nil {
		t.Error("a malformed DS: no error")
	}
}
