package lab

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// TestAdvertise: the DNS never publishes an unspecified address; with
// Advertise it publishes that one (nothing is bound here).
func TestAdvertise(t *testing.T) {
	for _, tc := range []struct {
		name      string
		host      string
		advertise string
		want      string // the MX's address record, "" for an error
	}{
		{"loopback as bound", "127.0.0.1", "", "A 127.0.0.1"},
		{"every IPv4 address needs advertise", "0.0.0.0", "", ""},
		{"every IPv6 address needs advertise", "::", "", ""},
		{"every address, advertised", "0.0.0.0", "192.0.2.7", "A 192.0.2.7"},
		{"IPv6, advertised", "::", "2001:db8::7", "AAAA 2001:db8::7"},
		{"advertise an unspecified address", "0.0.0.0", "::", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{StateDir: warmDir(t), Scenarios: []string{"baseline"},
				Addressing: Addressing{Host: tc.host, Advertise: tc.advertise, Ephemeral: true}}
			p, err := prepare(cfg)
			if tc.want == "" {
				if err == nil {
					_, err = Plan(cfg)
				}
				if err == nil || !strings.Contains(err.Error(), "advertise") {
					t.Fatalf("error %v, want one that says what to do", err)
				}
				if _, perr := Plan(cfg); !errors.Is(perr, ErrConfig) {
					t.Errorf("Plan: %v does not wrap ErrConfig", perr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := &Lab{store: p.store}
			zone := dnslab.NewZone(p.cfg.Zone+".", DNSTTL)
			site, err := l.site(p.selected[0], p.cfg, p.seed, p.addrs[0], zone)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rr := range zone.Records {
				if rr.Header().Name == site.MX+"." && (rr.Header().Rrtype == dns.TypeA || rr.Header().Rrtype == dns.TypeAAAA) {
					f := strings.Fields(rr.String())
					got = append(got, f[3]+" "+f[4])
				}
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("published %v, want %q", got, tc.want)
			}
		})
	}
}
