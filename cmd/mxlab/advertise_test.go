package main

import (
	"strings"
	"testing"

	"github.com/mxlab/mxlab/lab"
)

// TestServeUnspecifiedHost: --smtp-host 0.0.0.0 without --advertise is
// refused before anything is bound (exit 78, EX_CONFIG), with a message
// that says what to do.
func TestServeUnspecifiedHost(t *testing.T) {
	for _, tc := range []struct {
		host, advertise string
		stderr          string
	}{
		{"0.0.0.0", "", "--advertise ADDR"},
		{"::", "", "--advertise ADDR"},
		{"0.0.0.0", "0.0.0.0", "an unspecified address cannot be published"},
		{"127.0.0.1", "not-an-ip", `advertise "not-an-ip": want an IP address`},
	} {
		t.Run(tc.host+" "+tc.advertise, func(t *testing.T) {
			args := []string{"serve", "--state-dir", warmState(t), "--dns", "127.0.0.1:0", "--smtp-host", tc.host,
				"--api", "-", "--switchboard", "-", "--ephemeral"}
			if tc.advertise != "" {
				args = append(args, "--advertise", tc.advertise)
			}
			code, _, errOut := mxlab(t, args...)
			if code != 78 || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, want 78; stderr %q lacks %q", code, errOut, tc.stderr)
			}
		})
	}
}

// TestBindWarnings: every listener beyond loopback is named, once per
// address.
func TestBindWarnings(t *testing.T) {
	layout := &lab.Layout{
		DNS: "127.0.0.1:53",
		Scenarios: []*lab.Site{
			{Name: "baseline", SMTP: "0.0.0.0:10025"},
			{Name: "sni-reject", SMTP: "0.0.0.0:10027"},
			{Name: "local", SMTP: "127.0.1.1:25"},
		},
		Switchboard: "192.0.2.1:10024",
	}
	got := strings.Join(bindWarnings(layout), "\n")
	want := "mxlab: WARNING: SMTP (baseline) listens on 0.0.0.0 (every address of this machine), beyond loopback: anyone who can reach it can use the lab\n" +
		"mxlab: WARNING: switchboard listens on 192.0.2.1, beyond loopback: anyone who can reach it can use the lab"
	if got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
	if w := bindWarnings(&lab.Layout{DNS: "127.0.0.1:53", Scenarios: []*lab.Site{{SMTP: "[::1]:25"}}}); len(w) != 0 {
		t.Errorf("loopback warned: %q", w)
	}
}
