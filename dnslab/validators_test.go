package dnslab_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/internal/realpeer"
)

// Delv's verdicts (BIND 9.18's delv source): the comment it prints
// before an answer, or the line of a failed resolution.
const (
	delvSecure   = "; fully validated"
	delvUnsigned = "; unsigned answer"
	// delvNegative starts the comment of a validated NXDOMAIN or NODATA.
	delvNegative = "; negative response, fully validated"
	// delvBogus is delv's own verdict on a signature that does not
	// verify; delvFailure what it says when the server answers SERVFAIL.
	delvBogus   = ";; resolution failed: RRSIG failed to verify"
	delvFailure = ";; resolution failed: failure"
)

// anchorFile writes the zone's trust anchor in format f to a file of the
// test and returns its path.
func anchorFile(t *testing.T, keys *dnslab.Keys, f dnslab.AnchorFormat) string {
	t.Helper()
	ds, key := keys.TrustAnchor(origin, 3600)
	text, err := dnslab.FormatTrustAnchor(ds, key, f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "anchor."+string(f))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDelv asks delv, BIND's validator, to validate the test zone's
// answers from the trust anchor up: positive answers, wildcard answers,
// every kind of denial, the insecure delegation, and the bogus TLSA. Each
// mode's server is asked: in ModeSigned delv finds the bogus signature
// itself; in ModeAD the server answers SERVFAIL first (delv does not set
// CD), and delv fails the resolution.
func TestDelv(t *testing.T) {
	path := realpeer.Need(t, realpeer.Delv)
	tests := []struct {
		name, qtype string
		want        string // delv's verdict
		answer      string // a line the output must hold, "" for none
	}{
		{"sni-reject.mxlab.test", "MX", delvSecure, "sni-reject.mxlab.test. IN MX 10 " + sniMX},
		{"_25._tcp." + sniMX, "TLSA", delvSecure, "IN TLSA 3 1 1"},
		{sniMX, "A", delvSecure, "IN A 127.0.1.3"},
		{"anything.sni-reject.mxlab.test", "MX", delvSecure, "anything.sni-reject.mxlab.test. IN MX 10 " + sniMX},
		{"a.b.sni-reject.mxlab.test", "MX", delvSecure, "a.b.sni-reject.mxlab.test. IN MX 10"},
		{"alias.mxlab.test", "A", delvSecure, "IN A 127.0.1.1"},
		{"nope.mxlab.test", "MX", delvNegative, ""},
		{"_2526._tcp." + sniMX, "TLSA", delvNegative, ""},
		{"x.7c74f8d3197f.sni-reject.mxlab.test", "MX", delvNegative, ""},
		{sniMX, "AAAA", delvNegative, ""},
		{"7c74f8d3197f.sni-reject.mxlab.test", "MX", delvNegative, ""},
		{"anything.sni-reject.mxlab.test", "A", delvNegative, ""},
		{"noad.mxlab.test", "MX", delvUnsigned, "noad.mxlab.test. IN MX 10 mx.noad.mxlab.test."},
		{"mx.noad.mxlab.test", "A", delvUnsigned, "IN A 127.0.1.9"},
		{"_25._tcp.mx.noad.mxlab.test", "TLSA", delvUnsigned, "IN TLSA 3 1 1"},
		{"_25._tcp.mx.bogus.mxlab.test", "TLSA", delvBogus, ""},
	}
	for _, mode := range dnslab.Modes {
		t.Run(string(mode), func(t *testing.T) {
			z, keys := signedZone(t, mode)
			s := startLab(t, z)
			host, port, err := net.SplitHostPort(s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			anchor := anchorFile(t, keys, dnslab.AnchorDelv)
			for _, tt := range tests {
				if tt.want == delvBogus && mode == dnslab.ModeAD {
					tt.want = delvFailure
				}
				t.Run(tt.name+"/"+tt.qtype, func(t *testing.T) {
					r := realpeer.Run(t, realpeer.Cmd{Path: path, Args: []string{
						"@" + host, "-p", port, "-a", anchor, "+root=" + strings.TrimSuffix(origin, "."),
						"+nottl", tt.name, tt.qtype,
					}})
					checkDelv(t, r, tt.want, tt.answer)
				})
			}
		})
	}
}

// checkDelv checks delv's output holds the verdict and the answer line.
func checkDelv(t *testing.T, r realpeer.Result, verdict, answer string) {
	t.Helper()
	out := strings.ReplaceAll(r.All(), "\t", " ")
	lines := strings.Split(out, "\n")
	found := false
	for _, l := range lines {
		if strings.TrimSpace(l) == verdict || verdict == delvNegative && strings.HasPrefix(l, delvNegative) {
			found = true
		}
	}
	if !found {
		t.Errorf("delv did not say %q:\n%s", verdict, out)
	}
	if verdict == delvSecure && strings.Contains(out, delvUnsigned) {
		t.Errorf("delv saw an unsigned answer too:\n%s", out)
	}
	if answer != "" && !strings.Contains(out, answer) {
		t.Errorf("delv's answer lacks %q:\n%s", answer, out)
	}
}

// TestAnchorFormats checks each format names the key: the DS digest and
// the DNSKEY in zone syntax, both parseable; unbound's lines quoted; delv's
// statement with the KSK.
func TestAnchorFormats(t *testing.T) {
	keys, err := dnslab.GenerateKeys(origin)
	if err != nil {
		t.Fatal(err)
	}
	ds, key := keys.TrustAnchor(origin, 3600)
	for _, f := range dnslab.AnchorFormats {
		text, err := dnslab.FormatTrustAnchor(ds, key, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch f {
		case dnslab.AnchorZone:
			zp := dns.NewZoneParser(strings.NewReader(text), "", "")
			var types []string
			for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
				types = append(types, dns.Type(rr.Header().Rrtype).String())
			}
			if zp.Err() != nil || strings.Join(types, " ") != "DS DNSKEY" {
				t.Errorf("zone: %v %v:\n%s", types, zp.Err(), text)
			}
		case dnslab.AnchorUnbound:
			if !strings.Contains(text, `trust-anchor: "mxlab.test. 3600 IN DS `+ds.String()[strings.Index(ds.String(), "DS\t")+3:]+`"`) {
				t.Errorf("unbound:\n%s", text)
			}
		case dnslab.AnchorDelv:
			if !strings.Contains(text, `"mxlab.test." static-key 257 3 13 "`+key.PublicKey+`";`) {
				t.Errorf("delv:\n%s", text)
			}
		}
	}
	if _, err := dnslab.FormatTrustAnchor(ds, key, "bind"); err == nil {
		t.Error("format bind: no error")
	}
}
