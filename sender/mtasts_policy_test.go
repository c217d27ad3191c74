package sender

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSTSRecord(t *testing.T) {
	good := func(id string, txts ...string) {
		t.Helper()
		_, got, err := stsRecord(txts)
		if err != nil || got != id {
			t.Errorf("stsRecord(%q) = %q, %v; want id %q", txts, got, err, id)
		}
	}
	bad := func(why string, txts ...string) {
		t.Helper()
		if _, id, err := stsRecord(txts); !errors.Is(err, ErrSTSRecord) {
			t.Errorf("stsRecord(%q) = %q, %v; want an error: %s", txts, id, err, why)
		}
	}
	good("20261202", "v=STSv1; id=20261202")
	good("abc", "v=STSv1;id=abc;")
	good("abc", "v=STSv1; id=abc; ext=1")
	good("abc", "v=spf1 -all", "v=STSv1; id=abc") // §3.1: other records are discarded
	bad("no record", "v=spf1 -all")
	bad("no record")
	bad("two records (§3.1)", "v=STSv1; id=a", "v=STSv1; id=b")
	bad("no id", "v=STSv1;")
	bad("id longer than 32", "v=STSv1; id="+strings.Repeat("a", 33))
	bad("id with a dash", "v=STSv1; id=2026-12")
	bad("version glued to a field", "v=STSv1 id=abc")
	bad("field without =", "v=STSv1; id")
}

func TestParseSTSPolicy(t *testing.T) {
	good := func(text string, want STSPolicy) {
		t.Helper()
		p, err := ParseSTSPolicy(text)
		if err != nil || p.Mode != want.Mode || p.MaxAge != want.MaxAge || !slices.Equal(p.MX, want.MX) {
			t.Errorf("ParseSTSPolicy(%q) = %+v, %v; want %+v", text, p, err, want)
		}
	}
	bad := func(text, why string) {
		t.Helper()
		if p, err := ParseSTSPolicy(text); !errors.Is(err, ErrSTSPolicy) {
			t.Errorf("ParseSTSPolicy(%q) = %+v, %v; want an error: %s", text, p, err, why)
		}
	}
	good("version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n",
		STSPolicy{Mode: STSEnforce, MaxAge: 86400, MX: []string{"mx.example.test"}})
	good("version: STSv1\nmode: testing\nmx: *.example.test\nmx: mx2.example.test\nmax_age: 0",
		STSPolicy{Mode: STSTesting, MX: []string{"*.example.test", "mx2.example.test"}})
	good("version: STSv1\nmode: none\nmax_age: 31557600\n", STSPolicy{Mode: STSNone, MaxAge: 31557600})
	good("mode:enforce\nversion:STSv1  \nmx:mx.example.test\nmax_age: 60\nfuture_key: anything\n\n",
		STSPolicy{Mode: STSEnforce, MaxAge: 60, MX: []string{"mx.example.test"}})
	bad("version: STSv2\nmode: enforce\nmx: mx.example.test\nmax_age: 60\n", "version is STSv1 (§3.2)")
	bad("mode: enforce\nmx: mx.example.test\nmax_age: 60\n", "version is required")
	bad("version: STSv1\nmx: mx.example.test\nmax_age: 60\n", "mode is required")
	bad("version: STSv1\nmode: strict\nmx: mx.example.test\nmax_age: 60\n", "mode is enforce, testing or none")
	bad("version: STSv1\nmode: enforce\nmx: mx.example.test\n", "max_age is required")
	bad("version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 31557601\n", "max_age is at most 31557600")
	bad("version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: -1\n", "max_age is digits")
	bad("version: STSv1\nmode: enforce\nmax_age: 60\n", "enforce needs an mx")
	bad("version: STSv1\nmode: enforce\nmx: mx..example.test\nmax_age: 60\n", "mx is a host name")
	bad("version: STSv1\nmode: enforce\nmx: mail.*.example.test\nmax_age: 60\n", "a wildcard is only the leftmost label")
	bad("version: STSv1\nmode: enforce\nmode: testing\nmx: mx.example.test\nmax_age: 60\n", "mode twice")
	bad("<html>not found</html>", "not key: value")
}

func TestSTSPolicyMatches(t *testing.T) {
	p := &STSPolicy{MX: []string{"mx.example.test", "*.mail.example.test"}}
	for host, want := range map[string]bool{
		"mx.example.test":        true,
		"MX.Example.Test.":       true,
		"a.mail.example.test":    true,  // §4.1: the wildcard's one label
		"mail.example.test":      false, // the wildcard needs a label
		"b.a.mail.example.test":  false, // and only one
		"mx2.example.test":       false,
		"mx.example.test.evil.x": false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSTSPolicySecureMatch(t *testing.T) {
	// Postfix's secure level with the patterns postfix-mta-sts-resolver
	// hands it (profiles.STSMatchCertificate).
	p := &STSPolicy{MX: []string{"mx.example.test", "*.mail.example.test"}}
	for name, want := range map[string]bool{
		"mx.example.test":       true,
		"a.mail.example.test":   true,
		"b.a.mail.example.test": true, // ".mail.example.test" matches any depth
		"mail.example.test":     false,
		"*.example.test":        true, // a wildcard certificate names mx.example.test
		"www.example.test":      false,
	} {
		if got := p.secureMatch(name); got != want {
			t.Errorf("secureMatch(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParseSTSPolicy: the parser of what a policy host serves never
// panics, and what it accepts keeps §3.2's invariants.
func FuzzParseSTSPolicy(f *testing.F) {
	f.Add("version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n")
	f.Add("version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 0\n")
	f.Add("version: STSv1\nmode: none\nmax_age: 1\n")
	f.Add("<html>404</html>")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseSTSPolicy(text)
		if err != nil {
			return
		}
		if p.MaxAge < 0 || p.MaxAge > maxMaxAge || (p.Mode != STSNone && len(p.MX) == 0) {
			t.Fatalf("accepted %q as %+v", text, p)
		}
	})
}
