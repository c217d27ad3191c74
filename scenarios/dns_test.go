package scenarios

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDNSKnobs checks the DNSSEC knobs of a scenario's dns section:
// delegation and bogus, their values, and the combinations that cannot be
// (a signature to break in an unsigned zone, a TLSA to break that is not
// published). Each bad file is named with its key.
func TestDNSKnobs(t *testing.T) {
	const user = goodUser + "dns:\n"
	tests := []struct {
		name    string
		dns     string
		wantErr string // "" must load
		authn   bool   // IsAuthenticated, for files that load
	}{
		{"defaults", "  tlsa: none\n", "", true},
		{"insecure delegation", "  delegation: insecure\n", "", false},
		{"signed delegation", "  delegation: signed\n", "", true},
		{"the older spelling", "  authenticated: false\n", "", false},
		{"bogus tlsa", "  tlsa: current\n  bogus: [tlsa]\n", "", true},
		{"bogus mx and address", "  bogus: [mx, a]\n", "", true},
		{"unknown delegation", "  delegation: lame\n", `dns.delegation: unknown value "lame" (want one of signed, insecure)`, false},
		{"unknown bogus", "  bogus: [dnskey]\n", `dns.bogus[0]: unknown value "dnskey" (want one of mx, a, tlsa)`, false},
		{"bogus tlsa without tlsa", "  bogus: [tlsa]\n", "dns.bogus: tlsa needs a TLSA record", false},
		{"bogus in an unsigned zone", "  delegation: insecure\n  bogus: [mx]\n", "dns.bogus: an insecure delegation is unsigned", false},
		{"bogus with the older spelling", "  authenticated: false\n  bogus: [mx]\n", "dns.bogus: an insecure delegation is unsigned", false},
		{"authenticated and insecure", "  authenticated: true\n  delegation: insecure\n", "dns.authenticated: true contradicts dns.delegation: insecure", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(user+tt.dns), 0o644); err != nil {
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
			s, err := c.Get("mine")
			if err != nil {
				t.Fatal(err)
			}
			if s.DNS.IsAuthenticated() != tt.authn {
				t.Errorf("IsAuthenticated() = %v, want %v", s.DNS.IsAuthenticated(), tt.authn)
			}
		})
	}
}

// TestDNSSECScenarios checks the two built-in DNSSEC scenarios say what
// they are for: dnssec-bogus breaks its published TLSA, unsigned-zone is an
// insecure delegation with a TLSA nobody can trust.
func TestDNSSECScenarios(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	bogus, err := c.Get("dnssec-bogus")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bogus.DNS.Bogus, []BogusRRset{BogusTLSA}) || bogus.DNS.TLSA != TLSACurrent || !bogus.DNS.IsAuthenticated() {
		t.Errorf("dnssec-bogus: dns %+v", bogus.DNS)
	}
	unsigned, err := c.Get("unsigned-zone")
	if err != nil {
		t.Fatal(err)
	}
	if unsigned.DNS.Delegation != DelegationInsecure || unsigned.DNS.TLSA != TLSACurrent || unsigned.DNS.IsAuthenticated() {
		t.Errorf("unsigned-zone: dns %+v", unsigned.DNS)
	}
}
