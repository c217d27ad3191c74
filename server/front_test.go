package server

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/scenarios"
)

func TestBannerAndEHLO(t *testing.T) {
	tests := []struct {
		scenario string
		banner   string // prefix of the 220 line
		first    string // first EHLO line
		keywords []string
	}{
		{"baseline", "220 mx.baseline.mxlab.test ESMTP Postfix (Debian/GNU)", "250-mx.baseline.mxlab.test",
			[]string{"PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}},
		{"no-starttls", "220 mx.no-starttls.mxlab.test ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2+deb12u2; ", "250-mx.no-starttls.mxlab.test Hello localhost [127.0.0.1], pleased to meet you",
			[]string{"ENHANCEDSTATUSCODES", "PIPELINING", "EXPN", "VERB", "8BITMIME", "SIZE", "DSN", "ETRN", "AUTH DIGEST-MD5 CRAM-MD5", "DELIVERBY", "HELP"}},
		{"sni-reject", "220 mail.sni-reject.mxlab.test ESMTP Exim 4.96 ", "250-mail.sni-reject.mxlab.test Hello client.example [127.0.0.1]",
			[]string{"SIZE 52428800", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS", "PRDR", "HELP"}},
		{"submission", "220 mx.submission.mxlab.test ESMTP Postfix (Debian/GNU)", "250-mx.submission.mxlab.test",
			// AUTH only after TLS (smtpd_tls_auth_only).
			[]string{"PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			ts := startScenario(t, tt.scenario, nil)
			d := smtpexpect.Dial(t, ts.addr)
			if got := d.Expect(220)[0]; !strings.HasPrefix(got, tt.banner) {
				t.Errorf("banner %q, want prefix %q", got, tt.banner)
			}
			lines := d.Cmd("EHLO client.example", 250)
			if lines[0] != tt.first {
				t.Errorf("EHLO first line %q, want %q", lines[0], tt.first)
			}
			if got := smtpexpect.Keywords(lines); !slices.Equal(got, tt.keywords) {
				t.Errorf("EHLO keywords %q, want %q", got, tt.keywords)
			}
			d.Cmd("QUIT", 221)
		})
	}
}

func TestDeliveryRecorded(t *testing.T) {
	ts := startScenario(t, "baseline", nil)
	d := ts.greeted(t)
	if got := d.Cmd("MAIL FROM:<a@client.example>", 250)[0]; got != "250 2.1.0 Ok" {
		t.Errorf("MAIL reply %q", got)
	}
	if got := d.Cmd("RCPT TO:<postmaster@baseline.mxlab.test>", 250)[0]; got != "250 2.1.5 Ok" {
		t.Errorf("RCPT reply %q", got)
	}
	if got := d.Cmd("DATA", 354)[0]; got != "354 End data with <CR><LF>.<CR><LF>" {
		t.Errorf("DATA reply %q", got)
	}
	d.Send("Subject: test\r\n\r\n..leading dot\r\nbody")
	if got := d.Cmd(".", 250)[0]; !strings.HasPrefix(got, "250 2.0.0 Ok: queued as ") {
		t.Errorf("end of data reply %q", got)
	}
	d.Cmd("NOOP", 250)
	d.Cmd("RSET", 250)
	if got := d.Cmd("QUIT", 221)[0]; got != "221 2.0.0 Bye" {
		t.Errorf("QUIT reply %q", got)
	}
	r := ts.waitRecords(t, 1)[0]
	if r.EndReason != EndQuit || r.Counts != "ehlo=1 mail=1 rcpt=1 data=1 rset=1 noop=1 quit=1 commands=7" {
		t.Errorf("record end %q counts %q", r.EndReason, r.Counts)
	}
	if r.Message == nil || r.Message.From != "a@client.example" || !slices.Equal(r.Message.To, []string{"postmaster@baseline.mxlab.test"}) || r.Message.Size == 0 {
		t.Errorf("record message %+v", r.Message)
	}
	if r.TLS != nil || r.ClientHello != nil || r.ID == "" || r.Scenario != "baseline" {
		t.Errorf("record %+v", r)
	}
}

func TestSTARTTLS(t *testing.T) {
	ts := startScenario(t, "baseline", nil)
	d := ts.greeted(t)
	if got := d.Cmd("STARTTLS", 220)[0]; got != "220 2.0.0 Ready to start TLS" {
		t.Errorf("STARTTLS reply %q", got)
	}
	if err := d.StartTLS(clientTLS(ts, ts.mx)); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if kws := smtpexpect.Keywords(d.Cmd("EHLO client.example", 250)); slices.Contains(kws, "STARTTLS") {
		t.Errorf("STARTTLS offered again inside TLS: %q", kws)
	}
	if got := d.Cmd("STARTTLS", 554)[0]; got != "554 5.5.1 Error: TLS already active" {
		t.Errorf("second STARTTLS: %q", got)
	}
	d.Cmd("MAIL FROM:<a@client.example>", 250)
	d.Cmd("RCPT TO:<b@baseline.mxlab.test>", 250)
	d.Cmd("DATA", 354)
	d.Cmd("x\r\n.", 250)
	d.Cmd("QUIT", 221)
	r := ts.waitRecords(t, 1)[0]
	if r.TLS == nil || r.TLS.Version != "TLS 1.3" || r.TLS.SNI != ts.mx {
		t.Errorf("record tls %+v", r.TLS)
	}
	if r.ClientHello == nil || r.ClientHello.SNI == nil || *r.ClientHello.SNI != ts.mx {
		t.Errorf("record client_hello %+v", r.ClientHello)
	}
	if r.Counts != "ehlo=2 starttls=1/2 mail=1 rcpt=1 data=1 quit=1 commands=7/8" {
		t.Errorf("counts %q", r.Counts)
	}
}

func TestNotOffered(t *testing.T) {
	ts := startScenario(t, "no-starttls", nil)
	d := ts.greeted(t)
	if got := d.Cmd("STARTTLS", 503)[0]; got != "503 5.5.0 TLS not available" {
		t.Errorf("STARTTLS reply %q", got)
	}
	if got := d.Cmd("MAIL FROM:<a@client.example>", 250)[0]; got != "250 2.1.0 <a@client.example>... Sender ok" {
		t.Errorf("MAIL reply %q", got)
	}
	d.Cmd("QUIT", 221)
	if r := ts.waitRecords(t, 1)[0]; r.Counts != "ehlo=1 starttls=0/1 mail=1 quit=1 commands=3/4" {
		t.Errorf("counts %q", r.Counts)
	}
}

// TestAlerts checks, with Go's TLS client, that each rule's alert arrives
// as the client's error and is recorded; the byte-level comparison with
// gnutls-serv and openssl s_server is in lab's real-peer tests.
func TestAlerts(t *testing.T) {
	tests := []struct {
		scenario, sni string
		maxVersion    uint16
		minVersion    uint16
		wantErr       string
		wantAlert     int
	}{
		{"sni-reject", "_dc-mx.7c74f8d3197f.sni-reject.mxlab.test", 0, 0, "remote error: tls: illegal parameter", 47},
		{"no-shared-cipher", "mx.no-shared-cipher.mxlab.test", 0, 0, "remote error: tls: handshake failure", 40},
		{"no-shared-cipher", "", tls.VersionTLS12, 0, "remote error: tls: handshake failure", 40},
		{"no-shared-cipher", "", 0, tls.VersionTLS13, "remote error: tls: protocol version not supported", 70},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.wantErr[strings.LastIndex(tt.wantErr, ":")+2:], func(t *testing.T) {
			ts := startScenario(t, tt.scenario, nil)
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			err := d.StartTLS(&tls.Config{ServerName: tt.sni, InsecureSkipVerify: true, MaxVersion: tt.maxVersion, MinVersion: tt.minVersion})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("handshake error %v, want %q", err, tt.wantErr)
			}
			r := ts.waitRecords(t, 1)[0]
			if r.AlertSent == nil || r.AlertSent.Code != tt.wantAlert || r.AlertSent.Level != "fatal" {
				t.Errorf("alert_sent %+v, want fatal %d", r.AlertSent, tt.wantAlert)
			}
			if r.EndReason != EndClosedByLab || r.Counts != "ehlo=1 starttls=0/1 commands=1/2" {
				t.Errorf("end %q counts %q", r.EndReason, r.Counts)
			}
			if r.ClientHello == nil || (tt.sni != "" && (r.ClientHello.SNI == nil || *r.ClientHello.SNI != tt.sni)) {
				t.Errorf("client_hello %+v", r.ClientHello)
			}
		})
	}
}

// TestSNIRejectAcceptableName: an acceptable SNI, or none, completes with
// the origin's own certificate, as in the incident.
func TestSNIRejectAcceptableName(t *testing.T) {
	for _, sni := range []string{"", "mail.sni-reject.mxlab.test"} {
		t.Run("sni="+sni, func(t *testing.T) {
			ts := startScenario(t, "sni-reject", nil)
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			if err := d.StartTLS(&tls.Config{ServerName: sni, RootCAs: ts.ca, InsecureSkipVerify: sni == ""}); err != nil {
				t.Fatal(err)
			}
			cert := d.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
			if cert.Subject.CommonName != "mail.sni-reject.mxlab.test" {
				t.Errorf("certificate for %q, want the origin's own name", cert.Subject.CommonName)
			}
			d.Cmd("QUIT", 221)
		})
	}
}

func TestLegacyAnonymousVerdict(t *testing.T) {
	hello := readHello(t, "openssl-adh-tls1_2")
	ts := startScenario(t, "no-shared-cipher", nil)
	d := ts.greeted(t)
	d.Cmd("STARTTLS", 220)
	if _, err := d.Conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	r := ts.waitRecords(t, 1)[0]
	if r.LegacyWould == nil || r.LegacyWould.Action != "negotiate" || !strings.Contains(r.LegacyWould.Cipher, "_anon_") {
		t.Errorf("legacy_server_would %+v", r.LegacyWould)
	}
	if !r.ClientHello.AnonymousOffered || r.AlertSent == nil || r.AlertSent.Code != 40 {
		t.Errorf("record %+v alert %+v", r.ClientHello, r.AlertSent)
	}
}

func TestSubmission(t *testing.T) {
	ts := startScenario(t, "submission", func(sc *scenarios.Scenario, _ *Config) {
		auth := *sc.SMTP.Auth
		auth.Users = map[string]string{"app": "s3cret"}
		sc.SMTP.Auth = &auth
	})
	d := smtpexpect.Dial(t, ts.addr)
	d.Expect(220)
	d.Cmd("EHLO app.example", 250)
	if got := d.Cmd("MAIL FROM:<app@app.example>", 530)[0]; got != "530 5.7.0 Must issue a STARTTLS command first" {
		t.Errorf("MAIL before TLS: %q", got)
	}
	d.Cmd("STARTTLS", 220)
	if err := d.StartTLS(clientTLS(ts, ts.mx)); err != nil {
		t.Fatal(err)
	}
	if kws := smtpexpect.Keywords(d.Cmd("EHLO app.example", 250)); !slices.Contains(kws, "AUTH PLAIN LOGIN") {
		t.Errorf("AUTH not offered after TLS: %q", kws)
	}
	if got := d.Cmd("MAIL FROM:<app@app.example>", 530)[0]; got != "530 5.7.0 Authentication required" {
		t.Errorf("MAIL before AUTH: %q", got)
	}
	bad := base64.StdEncoding.EncodeToString([]byte("\x00app\x00wrong"))
	d.Cmd("AUTH PLAIN "+bad, 535)
	// LOGIN, with the 334 challenges relayed through the wire layer.
	d.Cmd("AUTH LOGIN", 334)
	d.Cmd(base64.StdEncoding.EncodeToString([]byte("app")), 334)
	if got := d.Cmd(base64.StdEncoding.EncodeToString([]byte("s3cret")), 235)[0]; got != "235 2.7.0 Authentication successful" {
		t.Errorf("AUTH reply %q", got)
	}
	d.Cmd("MAIL FROM:<app@app.example>", 250)
	d.Cmd("QUIT", 221)
	r := ts.waitRecords(t, 1)[0]
	if r.Auth == nil || r.Auth.Username != "app" || !r.Auth.Success || r.Auth.Mechanism != "LOGIN" {
		t.Errorf("auth record %+v", r.Auth)
	}
	for _, c := range r.Commands {
		if strings.Contains(c, bad) {
			t.Errorf("credentials in the record: %q", c)
		}
	}
}

func TestPipeliningAndBDAT(t *testing.T) {
	ts := startScenario(t, "sni-reject", nil)
	d := ts.greeted(t)
	// One write, as a pipelining client sends it (RFC 2920).
	d.Send("MAIL FROM:<a@client.example>\r\nRCPT TO:<b@sni-reject.mxlab.test>\r\nBDAT 5\r\nhelloBDAT 8 LAST\r\n world") // Send adds the chunk's CRLF
	for _, want := range []string{"250 OK", "250 Accepted", "250 5 byte chunk received"} {
		if _, lines := d.Reply(); lines[0] != want {
			t.Errorf("reply %q, want %q", lines[0], want)
		}
	}
	if _, lines := d.Reply(); !strings.HasPrefix(lines[0], "250 OK id=") {
		t.Errorf("BDAT LAST reply %q", lines[0])
	}
	d.Cmd("QUIT", 221)
	r := ts.waitRecords(t, 1)[0]
	if r.Message == nil || r.Message.Size != 13 || r.Counts != "ehlo=1 mail=1 rcpt=1 bdat=2 quit=1 commands=6" {
		t.Errorf("message %+v counts %q", r.Message, r.Counts)
	}
}

func TestBadInput(t *testing.T) {
	ts := startScenario(t, "baseline", nil)
	d := smtpexpect.Dial(t, ts.addr)
	d.Expect(220)
	if got := d.Cmd("FOO bar", 500)[0]; got != "500 5.5.2 Error: command not recognized" {
		t.Errorf("unknown command: %q", got)
	}
	d.Cmd(strings.Repeat("x", 5000), 500)
	d.Cmd("EHLO client.example", 250)
	d.Cmd("QUIT", 221)
	if r := ts.waitRecords(t, 1)[0]; r.Counts != "ehlo=1 quit=1 unknown=0/2 commands=2/4" {
		t.Errorf("counts %q", r.Counts)
	}
}

func TestTimeout(t *testing.T) {
	ts := startScenario(t, "baseline", func(_ *scenarios.Scenario, c *Config) { c.Timeouts.Command = 200 * time.Millisecond })
	d := smtpexpect.Dial(t, ts.addr)
	d.Expect(220)
	if got := d.Expect(421)[0]; got != "421 4.4.2 mx.baseline.mxlab.test Error: timeout exceeded" {
		t.Errorf("timeout reply %q", got)
	}
	if r := ts.waitRecords(t, 1)[0]; r.EndReason != EndTimeout {
		t.Errorf("end %q", r.EndReason)
	}
}

// TestGarbageAfterSTARTTLS: plaintext after "220 Ready" ends that session
// with a reason, and the server goes on serving.
func TestGarbageAfterSTARTTLS(t *testing.T) {
	for _, scenario := range []string{"baseline", "no-shared-cipher", "sni-reject"} {
		t.Run(scenario, func(t *testing.T) {
			ts := startScenario(t, scenario, nil)
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			d.Send("EHLO again")
			d.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, _ := d.Conn.Read(buf)
			if strings.Contains(string(buf[:n]), "550") {
				t.Errorf("plaintext reply after a failed handshake: %q", buf[:n])
			}
			r := ts.waitRecords(t, 1)[0]
			if r.TLSError == "" {
				t.Errorf("no reason recorded: %+v", r)
			}
			d2 := smtpexpect.Dial(t, ts.addr)
			d2.Expect(220)
			d2.Cmd("QUIT", 221)
		})
	}
}

// TestSTARTTLSInjection: commands pipelined with STARTTLS are discarded,
// never answered inside TLS (CVE-2011-0411).
// TestSTARTTLSInjection: plaintext pipelined after STARTTLS is
// discarded, not taken as a command inside TLS (RFC 3207 §5,
// CVE-2011-0411) nor as TLS: up to what one 4 KiB read takes with the
// STARTTLS line, as Postfix's 4 KiB VSTREAM buffer does.
func TestSTARTTLSInjection(t *testing.T) {
	// Send adds the last CRLF: 6, 906 and 3,996 bytes follow STARTTLS.
	for _, tail := range []string{"RSET", strings.Repeat("RSET\r\n", 150) + "RSET", strings.Repeat("NOOP\r\n", 665) + "NOOP"} {
		t.Run(fmt.Sprint(len(tail)+2), func(t *testing.T) {
			ts := startScenario(t, "baseline", nil)
			d := ts.greeted(t)
			d.Send("STARTTLS\r\n" + tail)
			d.Expect(220)
			if err := d.StartTLS(clientTLS(ts, ts.mx)); err != nil {
				t.Fatal(err)
			}
			if got := d.Cmd("NOOP", 250)[0]; got != "250 2.0.0 Ok" {
				t.Errorf("first reply inside TLS is %q, want the NOOP's (the plaintext must be gone)", got)
			}
			d.Cmd("QUIT", 221)
			r := ts.waitRecords(t, 1)[0]
			if want := fmt.Sprintf("discarded %d bytes", len(tail)+2); len(r.Notes) == 0 || !strings.Contains(r.Notes[0], want) {
				t.Errorf("notes %q, want %q", r.Notes, want)
			}
		})
	}
}

func TestCloseEndsSessions(t *testing.T) {
	ts := startScenario(t, "baseline", nil)
	d := smtpexpect.Dial(t, ts.addr)
	d.Expect(220)
	ts.Close()
	if r := ts.waitRecords(t, 1)[0]; r.EndReason != EndClosedByLab {
		t.Errorf("end %q", r.EndReason)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("listener still open after Close")
	}
}

func readHello(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/clienthello/" + name + ".hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAdvertisedExtensionsAccepted: every ESMTP parameter whose extension
// the dialect lists in EHLO is accepted (real Postfix sends ORCPT= when it
// sees DSN, SMTPUTF8 when the address needs it).
func TestAdvertisedExtensionsAccepted(t *testing.T) {
	tests := []struct{ scenario, mail, rcpt string }{
		{"baseline", "MAIL FROM:<a@client.example> RET=HDRS ENVID=x SMTPUTF8 BODY=8BITMIME SIZE=100", "RCPT TO:<b@baseline.mxlab.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@baseline.mxlab.test"},
		{"no-starttls", "MAIL FROM:<a@client.example> RET=FULL ENVID=y", "RCPT TO:<b@no-starttls.mxlab.test> ORCPT=rfc822;b@no-starttls.mxlab.test"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			ts := startScenario(t, tt.scenario, nil)
			d := ts.greeted(t)
			d.Cmd(tt.mail, 250)
			d.Cmd(tt.rcpt, 250)
			d.Cmd("QUIT", 221)
		})
	}
}

// TestPartialLineFlushes: a reply is not held back behind bytes that
// carry no line end (a ClientHello sent over plaintext after a refused
// STARTTLS holds a stray 0x0a and more binary after it).
func TestPartialLineFlushes(t *testing.T) {
	ts := startScenario(t, "no-starttls", nil)
	d := ts.greeted(t)
	d.Cmd("STARTTLS", 503)
	if _, err := d.Conn.Write([]byte("\x16\x03\x01\x00\x0a\x01\x02\x03")); err != nil {
		t.Fatal(err)
	}
	if code, _ := d.Reply(); code != 500 {
		t.Errorf("reply %d to a partial binary line, want sendmail's 500", code)
	}
}

func TestQueueIDShapes(t *testing.T) {
	for _, tt := range []struct {
		style scenarios.QueueIDStyle
		re    string
	}{
		{scenarios.QueueIDPostfix, `^[0-9A-F]{11}$`},                              // 4A3F9984092
		{scenarios.QueueIDSendmail, `^[0-9A-Za-z]{8}[0-9]{6}$`},                   // 6AMK0XQk023259
		{scenarios.QueueIDExim, `^[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}$`}, // 1xVDXP-00028Z-0n
	} {
		got := formatQueueID(tt.style, 0xabcdef, 42)
		if !regexp.MustCompile(tt.re).MatchString(got) {
			t.Errorf("%s: %q does not look like %s", tt.style, got, tt.re)
		}
		if got == formatQueueID(tt.style, 0xabcdef, 43) {
			t.Errorf("%s: two messages got one id %q", tt.style, got)
		}
	}
}

// TestLogLineNamesTheProbe: mxlab send's probing connection (EHLO
// mxlab-probe.…) says so in the lab's log line.
func TestLogLineNamesTheProbe(t *testing.T) {
	for helo, want := range map[string]bool{"mxlab-probe.client.mxlab.invalid": true, "client.mxlab.invalid": false} {
		c := &conn{helo: helo, rec: Record{Scenario: "baseline", ID: "s-000001", Remote: "127.0.0.1:4000", EndReason: EndQuit, Counts: "ehlo=1 quit=1 commands=2"}}
		if got := strings.HasSuffix(c.logLine(), "(mxlab send's probing connection)"); got != want {
			t.Errorf("EHLO %s: log line %q", helo, c.logLine())
		}
	}
}
