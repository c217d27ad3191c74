package profiles

import (
	"strings"
	"testing"
	"time"
)

func TestBuiltin(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.All() {
		t.Run(p.Name, func(t *testing.T) {
			if p.Title == "" {
				t.Errorf("%s: no title", p.File)
			}
			if strings.HasPrefix(p.Name, "postfix-") && len(p.Unconfirmed()) != 0 {
				t.Errorf("%s: Postfix behaviours are all measured, but %v carry no evidence", p.File, p.Unconfirmed())
			}
		})
	}
	if _, err := c.Get("postfx-may"); err == nil || !strings.Contains(err.Error(), "valid: ") {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestParseISODuration(t *testing.T) {
	good := map[string]time.Duration{"PT15M": 15 * time.Minute, "P5D": 120 * time.Hour, "P2DT1H": 49 * time.Hour, "PT300S": 5 * time.Minute}
	for in, want := range good {
		if got, err := ParseISODuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "P", "PT", "15M", "P1W", "PT1.5H"} {
		if _, err := ParseISODuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestMTASTSKnobs: the MTA-STS knobs fail at load with the key.
func TestMTASTSKnobs(t *testing.T) {
	base, err := builtinFS.ReadFile("builtin/postfix-mta-sts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown match", "mta_sts_match: certificate", "mta_sts_match: dns", "verify.mta_sts_match"},
		{"unknown sni", "sni: mta-sts", "sni: sts", "sni"},
		{"variant of a variant", "    sts:\n      outcome: deferred\n", "    sts:\n      dane: {outcome: deferred, message: x}\n      outcome: deferred\n", "variants of its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(base), tc.from, tc.to, 1)
			if text == string(base) {
				t.Fatalf("%q is not in the profile", tc.from)
			}
			c := &Catalogue{}
			if err := c.add("x.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
