package server

import (
	"net"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
)

// dialFrom connects to addr from the local address from ("" for any).
func dialFrom(t *testing.T, addr, from string) *smtpexpect.Dialogue {
	t.Helper()
	d := net.Dialer{Timeout: smtpexpect.Timeout}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return smtpexpect.New(t, c)
}

// TestConnectionLimits: over a limit, the banner is replaced by the
// imitated server's 421 and the connection closed; a slot freed by a
// session that ended is taken again.
func TestConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scenario string
		limits   Limits
		admitted []string // client addresses admitted first
		refused  string   // the next client, refused
		other    string   // a client still admitted ("" for none)
		want     string
	}{
		{"total", "baseline", Limits{Connections: 2}, []string{"127.0.0.1", "127.0.0.2"}, "127.0.0.3", "",
			"421 4.7.0 mx.baseline.mxlab.test Error: too many connections from 127.0.0.3"},
		{"per client", "baseline", Limits{ConnectionsPerClient: 2}, []string{"127.0.0.1", "127.0.0.1"}, "127.0.0.1", "127.0.0.2",
			"421 4.7.0 mx.baseline.mxlab.test Error: too many connections from 127.0.0.1"},
		{"per client, Exim", "sni-reject", Limits{ConnectionsPerClient: 1}, []string{"127.0.0.1"}, "127.0.0.1", "127.0.0.2",
			"421 Too many concurrent SMTP connections from this IP address; please try again later."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startScenario(t, tc.scenario, limitsOf(tc.limits))
			var open []*smtpexpect.Dialogue
			for _, from := range tc.admitted {
				d := dialFrom(t, ts.addr, from)
				d.Expect(220)
				open = append(open, d)
			}
			d := dialFrom(t, ts.addr, tc.refused)
			if got := d.Expect(421)[0]; got != tc.want {
				t.Errorf("refusal %q, want %q", got, tc.want)
			}
			expectClosed(t, d)
			if tc.other != "" {
				dialFrom(t, ts.addr, tc.other).Expect(220)
			}
			// End one admitted session: its slot is free again once
			// the server has forgotten it (bounded retries).
			open[0].Cmd("QUIT", 221)
			for i := 0; ; i++ {
				d := dialFrom(t, ts.addr, tc.refused)
				if code, _ := d.Reply(); code == 220 {
					break
				}
				if i == 100 {
					t.Fatal("the slot of a finished session was never freed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			var refusals int
			for _, r := range ts.sessions.Records() {
				if r.EndReason == EndClosedByLab && len(r.Commands) == 0 {
					refusals++
				}
			}
			if refusals == 0 {
				t.Error("no record of the refused connection")
			}
		})
	}
}
