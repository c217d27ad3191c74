package server

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/scenarios"
)

// limitsOf returns a server-config edit that sets the limits.
func limitsOf(l Limits) func(*scenarios.Scenario, *Config) {
	return func(_ *scenarios.Scenario, c *Config) { c.Limits = l }
}

// expectClosed checks that the lab closed the connection.
func expectClosed(t *testing.T, d *smtpexpect.Dialogue) {
	t.Helper()
	d.Conn.SetReadDeadline(time.Now().Add(smtpexpect.Timeout))
	var buf [64]byte
	n, err := d.Conn.Read(buf[:])
	if !errors.Is(err, io.EOF) {
		t.Errorf("after the closing reply: read %q, %v; want EOF", buf[:n], err)
	}
}

// TestRecipientLimit: the RCPT over the limit gets the imitated
// server's reply; go-smtp never sees it.
func TestRecipientLimit(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		limits   Limits
		accepted int
		want     string
	}{
		{"baseline", Limits{}, 1000, "452 4.5.3 Error: too many recipients"}, // Postfix's default
		{"sni-reject", Limits{Recipients: 5}, 5, "452 too many recipients"},
		{"no-starttls", Limits{Recipients: 3}, 3, "452 4.5.3 Too many recipients"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			ts := startScenario(t, tc.scenario, limitsOf(tc.limits))
			d := ts.greeted(t)
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			rcpts := make([]string, tc.accepted)
			for i := range rcpts {
				rcpts[i] = "RCPT TO:<r" + strings.Repeat("x", i%7) + "@" + tc.scenario + ".mxlab.test>"
			}
			d.Send(strings.Join(rcpts, "\r\n")) // pipelined, one write
			for i := range rcpts {
				if code, lines := d.Reply(); code != 250 {
					t.Fatalf("RCPT %d: %q", i+1, lines)
				}
			}
			if got := d.Cmd("RCPT TO:<over@"+tc.scenario+".mxlab.test>", 452)[0]; got != tc.want {
				t.Errorf("over the limit: %q, want %q", got, tc.want)
			}
			d.Cmd("RSET", 250)
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			d.Cmd("RCPT TO:<again@"+tc.scenario+".mxlab.test>", 250) // a new transaction starts over
			d.Cmd("QUIT", 221)
			if r := ts.waitRecords(t, 1)[0]; r.EndReason != EndQuit {
				t.Errorf("end %q", r.EndReason)
			}
		})
	}
}

// TestErrorLimit: Postfix closes with 421 once 20 commands have failed;
// sendmail and Exim answer the unrecognised command over their limit
// with their closing reply instead.
func TestErrorLimit(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		limits   Limits
		allowed  int // unknown commands answered normally
		last     string
	}{
		{"baseline", Limits{}, 20, "421 4.7.0 mx.baseline.mxlab.test Error: too many errors"},
		{"no-starttls", Limits{}, 25, "421 4.7.0 mx.no-starttls.mxlab.test Too many bad commands; closing connection"},
		{"sni-reject", Limits{}, 3, "500 Too many unrecognized commands"},
		{"baseline configured", Limits{Errors: 2}, 2, "421 4.7.0 mx.baseline.mxlab.test Error: too many errors"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			ts := startScenario(t, strings.Fields(tc.scenario)[0], limitsOf(tc.limits))
			d := smtpexpect.Dial(t, ts.addr)
			d.Expect(220)
			for range tc.allowed {
				d.Cmd("FOO", 500)
			}
			if tc.scenario == "baseline" || tc.scenario == "baseline configured" {
				// Postfix: the 421 follows the last error without a command.
				if got := d.Expect(421)[0]; !strings.HasSuffix(got, strings.TrimPrefix(tc.last, "421 4.7.0 ")) {
					t.Errorf("closing reply %q, want %q", got, tc.last)
				}
			} else {
				d.Send("FOO")
				if _, lines := d.Reply(); lines[0] != tc.last {
					t.Errorf("closing reply %q, want %q", lines[0], tc.last)
				}
			}
			expectClosed(t, d)
			if r := ts.waitRecords(t, 1)[0]; r.EndReason != EndClosedByLab {
				t.Errorf("end %q", r.EndReason)
			}
		})
	}
}

// TestMessageSizeLimit: every dialect refuses a message over its size
// limit, in SIZE= and in the body, in its own words.
func TestMessageSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		scenario   string
		mail, body string
	}{
		{"baseline", "552 5.3.4 Message size exceeds fixed limit", "552 5.3.4 Error: message file too big"},
		{"no-starttls", "552 5.2.3 Message size exceeds fixed maximum message size (100)", "552 5.2.3 Message exceeds maximum fixed size (100)"},
		{"sni-reject", "552 Message size exceeds maximum permitted", "552 Message size exceeds maximum permitted"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			ts := startScenario(t, tc.scenario, limitsOf(Limits{MessageBytes: 100}))
			d := ts.greeted(t)
			if got := d.Cmd("MAIL FROM:<a@client.example> SIZE=1000", 552)[0]; got != tc.mail {
				t.Errorf("MAIL SIZE=: %q, want %q", got, tc.mail)
			}
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			d.Cmd("RCPT TO:<b@"+tc.scenario+".mxlab.test>", 250)
			d.Cmd("DATA", 354)
			d.Send(strings.Repeat("0123456789", 30) + "\r\n.")
			if got := d.Expect(552)[0]; got != tc.body {
				t.Errorf("body: %q, want %q", got, tc.body)
			}
			d.Cmd("QUIT", 221)
			if r := ts.waitRecords(t, 1)[0]; len(r.QueueIDs) != 0 {
				t.Errorf("a refused message has queue ids %v", r.QueueIDs)
			}
		})
	}
}

func TestLimitsEffective(t *testing.T) {
	postfix := &scenarios.Dialect{SizeLimit: 10240000, Limits: scenarios.Limits{Recipients: 1000, Errors: 20}}
	sendmail := &scenarios.Dialect{Limits: scenarios.Limits{Errors: 25}}
	for _, tc := range []struct {
		name string
		in   Limits
		d    *scenarios.Dialect
		want Limits
	}{
		{"postfix defaults", Limits{}, postfix, Limits{Recipients: 1000, Errors: 20, MessageBytes: 10240000}},
		{"sendmail has no recipient or size limit: safety bounds", Limits{}, sendmail, Limits{Recipients: SafetyRecipients, Errors: 25, MessageBytes: SafetyMessageBytes}},
		{"configured", Limits{Recipients: 7, Errors: 3, MessageBytes: 99, Connections: 10, ConnectionsPerClient: 2}, postfix, Limits{Recipients: 7, Errors: 3, MessageBytes: 99, Connections: 10, ConnectionsPerClient: 2}},
		{"off", Limits{Recipients: -1, Errors: -1, MessageBytes: -1, Connections: -1}, sendmail, Limits{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.effective(tc.d); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
