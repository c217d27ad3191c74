package scenarios

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMTASTSKnobs checks the mta_sts and tls_rpt knobs: their defaults,
// their values, and the shapes RFC 8461 allows (an id of 1 to 32 letters
// and digits, §3.1; max_age up to a year, §3.2; mx patterns that are
// host names or a "*." wildcard of one, §4.1). Each bad file is named
// with its key.
func TestMTASTSKnobs(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // "" must load
		want    *MTASTS
	}{
		{"defaults", "mta_sts: {mode: enforce}\n", "",
			&MTASTS{Mode: STSEnforce, MX: []string{"{mx}"}, MaxAge: DefaultSTSMaxAge, ID: "1", Policy: PolicyOK}},
		{"everything", "mta_sts: {mode: testing, mx: [\"{mx}\", \"*.{domain}\", mx2.example.org], max_age: 604800, id: \"20261202\", policy: bad-cert}\ntls_rpt: [https, mailto]\n", "",
			&MTASTS{Mode: STSTesting, MX: []string{"{mx}", "*.{domain}", "mx2.example.org"}, MaxAge: 604800, ID: "20261202", Policy: PolicyBadCert}},
		{"none", "", "", nil},
		{"no mode", "mta_sts: {policy: ok}\n", "mta_sts.mode: missing", nil},
		{"unknown mode", "mta_sts: {mode: report}\n", `mta_sts.mode: unknown value "report" (want one of enforce, testing, none)`, nil},
		{"unknown policy", "mta_sts: {mode: enforce, policy: slow}\n", `mta_sts.policy: unknown value "slow" (want one of ok, fetch-fail, no-policy-host, bad-cert)`, nil},
		{"id too long", "mta_sts: {mode: enforce, id: \"" + strings.Repeat("a", 33) + "\"}\n", "mta_sts.id:", nil},
		{"id with a dash", "mta_sts: {mode: enforce, id: \"2026-12-02\"}\n", "mta_sts.id: \"2026-12-02\" is not 1 to 32 letters and digits", nil},
		{"max_age over a year", "mta_sts: {mode: enforce, max_age: 31557601}\n", "mta_sts.max_age: 31557601 is not between 0 and 31557600", nil},
		{"wildcard inside", "mta_sts: {mode: enforce, mx: [\"mx.*.{domain}\"]}\n", "mta_sts.mx[0]:", nil},
		{"unknown placeholder", "mta_sts: {mode: enforce, mx: [\"{host}\"]}\n", "mta_sts.mx[0]: unknown placeholder {host}", nil},
		{"unknown report way", "tls_rpt: [https, smtp]\n", `tls_rpt[1]: unknown value "smtp" (want one of https, mailto)`, nil},
		{"a way twice", "tls_rpt: [https, https]\n", "tls_rpt[1]: https is listed twice", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(goodUser+tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load([]string{dir}, nil, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "mine.yaml") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want mine.yaml and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := c.All()[len(c.All())-1]
			if (s.MTASTS == nil) != (tt.want == nil) || s.MTASTS != nil && (s.MTASTS.Mode != tt.want.Mode || !slices.Equal(s.MTASTS.MX, tt.want.MX) ||
				s.MTASTS.MaxAge != tt.want.MaxAge || s.MTASTS.ID != tt.want.ID || s.MTASTS.Policy != tt.want.Policy) {
				t.Errorf("mta_sts = %+v, want %+v", s.MTASTS, tt.want)
			}
		})
	}
}
