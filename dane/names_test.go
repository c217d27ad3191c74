package dane

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
)

func TestMatchName(t *testing.T) {
	// good wants the presented identifier to match the reference one.
	good := func(presented, ref string) {
		t.Helper()
		if !matchName(presented, canonical(ref)) {
			t.Errorf("%q does not match %q", presented, ref)
		}
	}
	// bad wants it not to.
	bad := func(presented, ref string) {
		t.Helper()
		if matchName(presented, canonical(ref)) {
			t.Errorf("%q matches %q", presented, ref)
		}
	}

	good("mx.example.test", "mx.example.test")
	good("MX.EXAMPLE.TEST", "mx.example.test")           // case-insensitive (RFC 6125 §6.4.1)
	good("mx.example.test.", "mx.example.test")          // a trailing dot is the same name
	good("mx.example.test", "Mx.Example.Test.")          // on either side
	good("*.example.test", "mx.example.test")            // one label
	good("*.EXAMPLE.test", "mx.example.TEST")            // wildcards are case-insensitive too
	good("*.example.test", "xn--bcher-kva.example.test") // an A-label is a label
	good("xn--bcher-kva.example.test", "XN--BCHER-KVA.example.test")

	bad("mx.example.test", "example.test")
	bad("example.test", "mx.example.test")
	bad("mx.example.test", "mx.example.test.evil")
	bad("*.example.test", "a.b.example.test") // one label only (RFC 6125 §6.4.3)
	bad("*.example.test", "example.test")     // not none
	bad("*.example.test", ".example.test")    // not an empty one
	bad("*.test", "example.test")             // too close to the root
	bad("*", "example")
	bad("f*.example.test", "foo.example.test")  // no partial-label wildcards
	bad("*o.example.test", "foo.example.test")  // nor at the end
	bad("mx.*.test", "mx.example.test")         // only left-most
	bad("*.*.test", "a.b.test")                 // only one
	bad("**.example.test", "mx.example.test")   // a wildcard is the whole label
	bad("*.example..test", "mx.example..test")  // no empty labels
	bad("", "mx.example.test")                  // nothing presented
	bad("mx.example.test", "")                  // nothing to match
	bad("mx.example.test*", "mx.example.test*") // a star is not a character
}

func TestMatchNames(t *testing.T) {
	cert := func(cn string, san ...string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, DNSNames: san}
	}
	tests := []struct {
		name  string
		cert  *x509.Certificate
		names []string
		want  string // "" for no match
	}{
		{"san", cert("ignored", "mx.example.test"), []string{"mx.example.test"}, "mx.example.test"},
		{"second san", cert("", "a.test", "mx.example.test"), []string{"mx.example.test"}, "mx.example.test"},
		{"first reference wins", cert("", "example.test", "mx.example.test"), []string{"mx.example.test", "example.test"}, "mx.example.test"},
		{"next-hop domain", cert("", "example.test"), []string{"mx.example.test", "example.test"}, "example.test"},
		{"reported as given", cert("", "mx.example.test"), []string{"MX.example.test."}, "MX.example.test."},
		{"empty reference skipped", cert("", "mx.example.test"), []string{"", "mx.example.test"}, "mx.example.test"},
		// RFC 6125 §6.4.4: the CN only when there is no DNS SAN.
		{"cn without san", cert("mx.example.test"), []string{"mx.example.test"}, "mx.example.test"},
		{"cn ignored beside a san", cert("mx.example.test", "other.test"), []string{"mx.example.test"}, ""},
		{"wildcard cn without san", cert("*.example.test"), []string{"mx.example.test"}, "mx.example.test"},
		{"no names at all", cert(""), []string{"mx.example.test"}, ""},
		{"no references", cert("", "mx.example.test"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := matchNames(tt.cert, tt.names)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("got %q, %v, want %q", got, ok, tt.want)
			}
		})
	}
}
