package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/scenarios"
)

// withFaults replaces a scenario's faults.
func withFaults(faults ...scenarios.Fault) func(*scenarios.Scenario, *Config) {
	return func(sc *scenarios.Scenario, _ *Config) { sc.Faults = faults }
}

// readEnd reads what the lab sends until it closes, and how it closed.
func readEnd(t *testing.T, c net.Conn) (string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(smtpexpect.Timeout))
	data, err := io.ReadAll(c)
	return string(data), err
}

// TestFaultPoints puts each action at its point and checks the bytes on
// the wire and the record's notes.
func TestFaultPoints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault scenarios.Fault
		// dialogue drives the session up to the fault and checks it.
		dialogue func(t *testing.T, ts *testServer)
		end      EndReason
	}{
		{"close on connect (proxied-a)", scenarios.Fault{At: scenarios.AtConnect, Do: scenarios.DoClose}, func(t *testing.T, ts *testServer) {
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got, err := readEnd(t, c); got != "" || err != nil {
				t.Errorf("before the banner: read %q, %v; want nothing and EOF", got, err)
			}
		}, EndClosedByLab},
		{"reply on connect (a 554 banner)", scenarios.Fault{At: scenarios.AtConnect, Do: scenarios.DoReply, Reply: "554 5.3.2 {host} no service"}, func(t *testing.T, ts *testServer) {
			d := smtpexpect.Dial(t, ts.addr)
			if got := d.Expect(554)[0]; got != "554 5.3.2 "+ts.host+" no service" {
				t.Errorf("banner %q", got)
			}
			d.Cmd("QUIT", 221)
		}, EndQuit},
		{"454 to STARTTLS (starttls-454)", scenarios.Fault{At: scenarios.AtSTARTTLS, Do: scenarios.DoReply, Reply: "454 4.7.0 TLS not available due to local problem"}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 454)
			// RFC 3207 §4: the session goes on in plaintext.
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			d.Cmd("QUIT", 221)
		}, EndQuit},
		{"close after 220 (drop-after-220)", scenarios.Fault{At: scenarios.AtTLSReady, Do: scenarios.DoClose}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			// EOF, or a reset when the ClientHello reached the lab before
			// it closed (unread data makes close(2) send RST, tcp(7)),
			// as with a real server that does this.
			err := d.StartTLS(&tls.Config{InsecureSkipVerify: true})
			if err == nil || !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("handshake after 220: %v, want EOF or a reset", err)
			}
			// The lab reads until the client closes (faultClose): a
			// client that saw the close gives up. Without this the record
			// waited for the handshake timeout, as long as waitRecords
			// waits, and a loaded machine failed the test.
			d.Conn.Close()
		}, EndClosedByLab},
		{"reset at RCPT", scenarios.Fault{At: scenarios.AtRCPT, Do: scenarios.DoReset}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			d.Send("RCPT TO:<r@baseline.mxlab.test>")
			if got, err := readEnd(t, d.Conn); got != "" || err == nil || errors.Is(err, io.EOF) {
				t.Errorf("after RCPT: read %q, %v; want a reset", got, err)
			}
		}, EndClosedByLab},
		{"421 at MAIL closes", scenarios.Fault{At: scenarios.AtMAIL, Do: scenarios.DoReply, Reply: "421 4.3.2 {host} shutting down"}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("MAIL FROM:<a@client.example>", 421)
			expectClosed(t, d)
		}, EndClosedByLab},
		{"alert at tls-ready", scenarios.Fault{At: scenarios.AtTLSReady, Do: scenarios.DoAlert, Alert: "internal_error"}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			// The alert follows the 220 at once, before any ClientHello:
			// read both from the socket.
			if _, err := d.Conn.Write([]byte("STARTTLS\r\n")); err != nil {
				t.Fatal(err)
			}
			got, _ := readEnd(t, d.Conn)
			if want := "\x15\x03\x03\x00\x02\x02\x50"; !strings.HasPrefix(got, "220 ") || !strings.HasSuffix(got, "\r\n"+want) {
				t.Errorf("after STARTTLS: %q, want the 220 and then the fatal internal_error alert record %q", got, want)
			}
		}, EndClosedByLab},
		{"421 to EHLO", scenarios.Fault{At: scenarios.AtEHLO, Do: scenarios.DoReply, Reply: "421 4.7.0 {host} Service not available"}, func(t *testing.T, ts *testServer) {
			d := smtpexpect.Dial(t, ts.addr)
			d.Expect(220)
			d.Cmd("EHLO client.example", 421)
			expectClosed(t, d)
		}, EndClosedByLab},
		{"451 to DATA", scenarios.Fault{At: scenarios.AtDATA, Do: scenarios.DoReply, Reply: "451 4.3.0 Error: queue file write error"}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			d.Cmd("RCPT TO:<r@baseline.mxlab.test>", 250)
			d.Cmd("DATA", 451)
			d.Cmd("QUIT", 221)
		}, EndQuit},
		{"554 after the dot", scenarios.Fault{At: scenarios.AtDot, Do: scenarios.DoReply, Reply: "554 5.7.1 Message rejected"}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("MAIL FROM:<a@client.example>", 250)
			d.Cmd("RCPT TO:<r@baseline.mxlab.test>", 250)
			d.Cmd("DATA", 354)
			d.Cmd("Subject: x\r\n\r\nbody\r\n.", 554)
			d.Cmd("QUIT", 221)
		}, EndQuit},
		{"close after the handshake", scenarios.Fault{At: scenarios.AtHandshake, Do: scenarios.DoClose}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			if err := d.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got, err := readEnd(t, d.Conn); got != "" || err != nil {
				t.Errorf("after the handshake: read %q, %v; want close_notify and EOF", got, err)
			}
		}, EndClosedByLab},
		{"stall on connect until the client leaves", scenarios.Fault{At: scenarios.AtConnect, Do: scenarios.DoStall}, func(t *testing.T, ts *testServer) {
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("EHLO client.example\r\n")); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}, EndClosedByClient},
		{"close at clienthello", scenarios.Fault{At: scenarios.AtClientHello, Do: scenarios.DoClose, When: scenarios.TLS13Only}, func(t *testing.T, ts *testServer) {
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			err := d.StartTLS(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
			if err == nil {
				t.Errorf("a TLS 1.3-only ClientHello completed the handshake")
			}
			// The lab reads until the client closes (faultClose): close,
			// as a client that gave up does, or the record waits for the
			// handshake timeout, as long as waitRecords waits.
			d.Conn.Close()
		}, EndClosedByLab},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startScenario(t, "baseline", withFaults(tc.fault))
			tc.dialogue(t, ts)
			rec := ts.waitRecords(t, 1)[0]
			if rec.EndReason != tc.end {
				t.Errorf("end_reason %s, want %s", rec.EndReason, tc.end)
			}
			if !strings.Contains(strings.Join(rec.Notes, "\n"), "fault: "+string(tc.fault.Do)+" at "+string(tc.fault.At)) {
				t.Errorf("notes %q do not say which fault applied", rec.Notes)
			}
		})
	}
}

// TestAddressRules: the local part picks the reply, on any scenario;
// refused messages are never stored.
func TestAddressRules(t *testing.T) {
	ts := startScenario(t, "baseline", nil)
	d := ts.greeted(t)
	d.Cmd("MAIL FROM:<a@client.example>", 250)
	if got := d.Cmd("RCPT TO:<rcpt-550@baseline.mxlab.test>", 550)[0]; got != "550 5.1.1 <rcpt-550@baseline.mxlab.test>: Recipient address rejected: mxlab rule rcpt-550" {
		t.Errorf("rcpt-550: %q", got)
	}
	d.Cmd("RCPT TO:<RCPT-452@baseline.mxlab.test>", 452)
	d.Cmd("RCPT TO:<data-554@baseline.mxlab.test>", 250)
	d.Cmd("RCPT TO:<data-451@baseline.mxlab.test>", 250) // the first data rule wins
	d.Cmd("DATA", 354)
	if got := d.Cmd("Subject: x\r\n\r\nbody\r\n.", 554)[0]; got != "554 5.7.1 mxlab rule data-554: message rejected" {
		t.Errorf("data-554: %q", got)
	}
	// The transaction is over: a plain one is accepted.
	d.Cmd("MAIL FROM:<a@client.example>", 250)
	d.Cmd("RCPT TO:<ok@baseline.mxlab.test>", 250)
	d.Cmd("DATA", 354)
	d.Cmd("Subject: y\r\n\r\nbody\r\n.", 250)
	if got := d.Cmd("MAIL FROM:<mail-421@client.example>", 421)[0]; !strings.HasPrefix(got, "421 4.7.0 ") {
		t.Errorf("mail-421: %q", got)
	}
	expectClosed(t, d)
	rec := ts.waitRecords(t, 1)[0]
	if len(rec.QueueIDs) != 1 {
		t.Errorf("queue ids %v: only the plain message may be accepted", rec.QueueIDs)
	}
	if rec.Counts != "ehlo=1 mail=2/3 rcpt=3/5 data=1/2 commands=7/11" {
		t.Errorf("counts %q", rec.Counts)
	}
}

func TestAddressRule(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		rule  string
		delay time.Duration
	}{
		{"<rcpt-550@x.test>", "rcpt-550", 0},
		{"Data-451@x.test", "data-451", 0},
		{"<slow-data-5s@x.test>", "slow-data", 5 * time.Second},
		{"<slow-data-999s@x.test>", "slow-data", maxSlowData},
		{"<rcpt-550x@x.test>", "", 0},
		{"<xrcpt-550@x.test>", "", 0},
		{"<>", "", 0},
	} {
		if rule, delay := addressRule(tc.addr); rule != tc.rule || delay != tc.delay {
			t.Errorf("addressRule(%q) = %q, %s; want %q, %s", tc.addr, rule, delay, tc.rule, tc.delay)
		}
	}
}
