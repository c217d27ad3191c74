// Real-peer tests of the receiving lab: every scenario driven by the TLS
// clients and MTA tools Debian ships (openssl s_client, gnutls-cli, swaks,
// Postfix's posttls-finger), and the same ClientHello bytes sent to the lab
// and to the real misconfigured servers (gnutls-serv, openssl s_server
// -nocert) in one run. A missing tool ends the test as internal/realpeer's
// policy says, with the command that installs it.
//
// Everything listens on 127.0.0.1 or inside a network namespace the test
// made; every process is bounded in time and stopped by PID.

package lab_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/server"
)

// caSubject is how OpenSSL prints the lab CA's subject.
const caSubject = "O = mxlab, CN = mxlab test CA"

// sClientAlertRE finds, in s_client -msg output, the alert record it
// received: the record header's bytes, then the alert's level, name and
// bytes.
var sClientAlertRE = regexp.MustCompile(`<<< [^\n]*RecordHeader \[length 0005\]\n\s+([0-9a-f ]+)\n<<< [^\n]*Alert \[length 0002\], (fatal|warning) ([a-z_]+)\n\s+([0-9a-f ]+)\n`)

var (
	sClientSubjectRE = regexp.MustCompile(`(?m)^ 0 s:(.*)$`)
	sClientIssuerRE  = regexp.MustCompile(`(?m)^   i:(.*)$`)
	sClientNewRE     = regexp.MustCompile(`(?m)^New, (\S+), Cipher is (\S+)$`)
	sClientVerifyRE  = regexp.MustCompile(`(?m)^\s*Verify return code: (.*)$`) // indented in TLS 1.2's SSL-Session block
)

// sClientWant is what openssl s_client must show for one run.
type sClientWant struct {
	// alert is the alert record received ("15 03 03 00 02 02 2f"); empty
	// when the handshake must complete.
	alert string
	// texts must appear in s_client's output.
	texts []string
	// subject and issuer of the certificate, verify the verify result,
	// when the handshake completes.
	subject, issuer, verify string
}

// sClientExpect is what each scenario does to s_client in a mode (default,
// tls1_2, tls1_3, tls1) with or without the MX name as SNI.
func sClientExpect(s *lab.Site, mode string, sni bool) sClientWant {
	switch s.Name {
	case "sni-reject":
		if sni { // GnuTLS refuses the underscore: alert 47 before anything else
			rec := "15 03 03 00 02 02 2f"
			if mode == "tls1" {
				rec = "15 03 01 00 02 02 2f"
			}
			return sClientWant{alert: rec, texts: []string{"sslv3 alert illegal parameter", "SSL alert number 47"}}
		}
		// No SNI: the origin's own certificate, for its own name (not the
		// _dc-mx name), as in the incident.
		return sClientWant{subject: "CN = " + s.Host, issuer: caSubject, verify: "0 (ok)",
			texts: []string{"Verified peername: " + s.Host}}
	case "no-shared-cipher":
		switch mode {
		case "tls1_3": // OpenSSL without a certificate has no TLS 1.3 at all
			return sClientWant{alert: "15 03 03 00 02 02 46", texts: []string{"tlsv1 alert protocol version", "SSL alert number 70"}}
		case "tls1":
			return sClientWant{alert: "15 03 01 00 02 02 28", texts: []string{"sslv3 alert handshake failure", "SSL alert number 40"}}
		}
		return sClientWant{alert: "15 03 03 00 02 02 28", texts: []string{"sslv3 alert handshake failure", "SSL alert number 40"}}
	case "self-signed":
		return sClientWant{subject: "CN = " + s.MX, issuer: "CN = " + s.MX, verify: "18 (self-signed certificate)",
			texts: []string{"Verification error: self-signed certificate"}}
	}
	return sClientWant{subject: "CN = " + s.MX, issuer: caSubject, verify: "0 (ok)",
		texts: []string{"Verification: OK", "Verified peername: " + s.MX}}
}

// TestRealPeersOpenSSL drives every scenario with `openssl s_client
// -starttls smtp` in its default mode, -tls1_2 and -tls1_3, with the MX
// name as SNI and with -noservername. It checks the alert s_client
// received byte for byte (its -msg dump), or the certificate it got and
// how it verified against the lab CA, and the session record the lab kept
// of the same session (SNI, alert, TLS version, end).
func TestRealPeersOpenSSL(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	l := startLab(t)
	ca := l.Layout().CACert

	type mode struct {
		name    string
		args    []string
		version string // what s_client prints for a completed handshake
	}
	modes := []mode{
		{"default", nil, "TLSv1.3"},
		{"tls1_2", []string{"-tls1_2"}, "TLSv1.2"},
		{"tls1_3", []string{"-tls1_3"}, "TLSv1.3"},
	}
	// TLS 1.0 only where the ClientHello is refused before any version is
	// agreed: the alert's record version must then be 03 01.
	tls1 := mode{"tls1", []string{"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, ""}

	for _, s := range l.Layout().Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			if s.Name == "no-starttls" {
				testNoSTARTTLS(t, l, s, openssl)
				return
			}
			ms := modes
			if s.Name == "sni-reject" || s.Name == "no-shared-cipher" {
				ms = append(slices.Clone(modes), tls1)
			}
			for _, m := range ms {
				for _, sni := range []bool{true, false} {
					if m.name == "tls1" && !sni && s.Name == "sni-reject" {
						continue // GnuTLS negotiates TLS 1.0 here: TestRealPeersSameBytes compares with gnutls-serv
					}
					name := m.name + "/sni"
					args := []string{"s_client", "-starttls", "smtp", "-connect", s.SMTP, "-msg", "-CAfile", ca}
					if sni {
						args = append(args, "-servername", s.MX)
					} else {
						name = m.name + "/no-sni"
						args = append(args, "-noservername")
					}
					want := sClientExpect(s, m.name, sni)
					if want.verify == "0 (ok)" {
						host := s.MX
						if s.Name == "sni-reject" {
							host = s.Host
						}
						args = append(args, "-verify_hostname", host, "-verify_return_error")
					}
					args = append(args, m.args...)
					t.Run(name, func(t *testing.T) {
						since := mark(l)
						run := realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: args, Timeout: peerTimeout})
						rec := nextRecord(t, l, since, s.Name)
						checkSClient(t, run, rec, want, m.version)
						checkSNI(t, rec, sni, s.MX)
					})
				}
			}
		})
	}
}

// checkSClient compares one s_client run and the lab's record of it with
// what the scenario must show.
func checkSClient(t *testing.T, run realpeer.Result, rec server.Record, want sClientWant, version string) {
	t.Helper()
	out := run.All()
	for _, text := range want.texts {
		if !strings.Contains(out, text) {
			t.Errorf("s_client did not print %q", text)
		}
	}
	if want.alert != "" {
		m := sClientAlertRE.FindStringSubmatchIndex(run.Stdout)
		if m == nil {
			t.Fatalf("s_client -msg shows no alert record received")
		}
		got := run.Stdout[m[2]:m[3]] + " " + run.Stdout[m[8]:m[9]]
		if got != want.alert {
			t.Errorf("alert record received: %s, want %s", got, want.alert)
		}
		// Nothing after the alert: no second record, no plaintext 550.
		if rest := run.Stdout[m[1]:]; strings.Contains(rest, "<<< ") {
			t.Errorf("s_client received more after the alert:\n%s", rest)
		}
		if !strings.Contains(out, "New, (NONE), Cipher is (NONE)") || run.Code == 0 {
			t.Errorf("s_client exit %d; want a failed handshake", run.Code)
		}
		code := want.alert[len(want.alert)-2:]
		if rec.AlertSent == nil || fmt.Sprintf("%02x", rec.AlertSent.Code) != code || rec.AlertSent.Level != "fatal" {
			t.Errorf("record alert_sent %+v, want fatal %s", rec.AlertSent, code)
		}
		if rec.TLS != nil || rec.EndReason != server.EndClosedByLab {
			t.Errorf("record tls %+v end %s, want no TLS and closed-by-lab", rec.TLS, rec.EndReason)
		}
		return
	}
	if m := sClientNewRE.FindStringSubmatch(out); m == nil || m[1] != version {
		t.Errorf("s_client negotiated %q, want %s", m, version)
	}
	if m := sClientSubjectRE.FindStringSubmatch(out); m == nil || m[1] != want.subject {
		t.Errorf("certificate subject %q, want %q", m, want.subject)
	}
	if m := sClientIssuerRE.FindStringSubmatch(out); m == nil || m[1] != want.issuer {
		t.Errorf("certificate issuer %q, want %q", m, want.issuer)
	}
	if m := sClientVerifyRE.FindStringSubmatch(out); m == nil || m[1] != want.verify {
		t.Errorf("Verify return code %q, want %q", m, want.verify)
	}
	if run.Code != 0 {
		t.Errorf("s_client exit %d, want 0", run.Code)
	}
	wantVersion := strings.Replace(version, "TLSv", "TLS ", 1)
	if rec.TLS == nil || rec.TLS.Version != wantVersion || rec.AlertSent != nil {
		t.Errorf("record tls %+v alert %+v, want %s and no alert", rec.TLS, rec.AlertSent, wantVersion)
	}
	if rec.EndReason != server.EndClosedByClient {
		t.Errorf("record end %s, want closed-by-client (s_client closes at EOF on stdin)", rec.EndReason)
	}
}

// checkSNI checks the SNI the lab recorded: the MX name when the client
// sent one, null when it sent none.
func checkSNI(t *testing.T, rec server.Record, sent bool, mx string) {
	t.Helper()
	if rec.ClientHello == nil {
		t.Fatalf("record has no client_hello")
	}
	switch {
	case sent && (rec.ClientHello.SNI == nil || *rec.ClientHello.SNI != mx):
		t.Errorf("record client_hello.sni %s, want %s", sniOf(rec), mx)
	case !sent && rec.ClientHello.SNI != nil:
		t.Errorf("record client_hello.sni %s, want null", sniOf(rec))
	}
	if rec.TLS != nil && sent && rec.TLS.SNI != mx {
		t.Errorf("record tls.sni %q, want %s", rec.TLS.SNI, mx)
	}
}

// testNoSTARTTLS: s_client finds no STARTTLS in the EHLO reply, says so
// and sends STARTTLS anyway; sendmail (Srv_Features S) answers 503 and
// reads the ClientHello as command lines, so s_client waits forever for a
// ServerHello, as it would against the real server: it is stopped once its
// ClientHello is out. The same STARTTLS by hand shows the 503 text.
func testNoSTARTTLS(t *testing.T, l *lab.Lab, s *lab.Site, openssl string) {
	t.Run("s_client", func(t *testing.T) {
		since := mark(l)
		out := runPeerUntil(t, regexp.MustCompile(`>>> [^\n]*ClientHello`), openssl,
			"s_client", "-starttls", "smtp", "-connect", s.SMTP, "-noservername", "-msg")
		if !strings.Contains(out, "Didn't find STARTTLS in server response, trying anyway...") {
			t.Errorf("s_client did not report the missing STARTTLS")
		}
		rec := nextRecord(t, l, since, s.Name)
		if len(rec.Commands) < 2 || rec.Commands[1] != "STARTTLS" || !strings.Contains(rec.Counts, "starttls=0/1") {
			t.Errorf("record commands %q counts %q, want a refused STARTTLS second", rec.Commands, rec.Counts)
		}
		if rec.ClientHello != nil || rec.TLS != nil || rec.AlertSent != nil {
			t.Errorf("record client_hello %+v tls %+v alert %+v, want none: no TLS was started", rec.ClientHello, rec.TLS, rec.AlertSent)
		}
	})
	t.Run("by-hand", func(t *testing.T) {
		since := mark(l)
		d := smtpexpect.Dial(t, s.SMTP)
		d.Expect(220)
		kws := smtpexpect.Keywords(d.Cmd("EHLO client.example", 250))
		if slices.Contains(kws, "STARTTLS") {
			t.Errorf("EHLO keywords %q offer STARTTLS", kws)
		}
		d.Send("STARTTLS")
		if code, lines := d.Reply(); code != 503 || lines[0] != "503 5.5.0 TLS not available" {
			t.Errorf("STARTTLS got %q, want sendmail's 503 5.5.0 TLS not available", lines)
		}
		d.Cmd("NOOP", 250)
		d.Cmd("QUIT", 221)
		rec := recordFrom(t, l, since, d.Conn)
		if rec.Counts != "ehlo=1 starttls=0/1 noop=1 quit=1 commands=3/4" || rec.EndReason != server.EndQuit {
			t.Errorf("record counts %q end %s", rec.Counts, rec.EndReason)
		}
	})
}

// TestRealPeersOpenSSLClientAlert: a client that rejects the certificate
// (s_client -verify_return_error against self-signed) sends fatal alert 48
// unknown_ca and closes. In TLS 1.3 OpenSSL sends that alert in plaintext
// (it has not switched its write keys yet). The server the scenario
// imitates, Postfix, is an OpenSSL server, and OpenSSL accepts a plaintext
// alert at that point (ENC_READ_STATE_ALLOW_PLAIN_ALERTS): the test shows
// it on openssl s_server with a self-signed certificate in the same run.
// The record must say what the client did: it sent alert 48 and closed.
func TestRealPeersOpenSSLClientAlert(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	realpeer.NeedNetns(t)
	l := startLab(t)
	s := site(t, l, "self-signed")
	ns := netns.New(t)
	ref := startSServerSelfSigned(t, ns, s.MX)
	for _, m := range []struct{ name, flag string }{{"tls1_2", "-tls1_2"}, {"tls1_3", "-tls1_3"}} {
		t.Run(s.Name+"/"+m.name, func(t *testing.T) {
			// The reference: s_client in the namespace, straight TLS.
			offset := ref.mark()
			realpeer.Run(t, realpeer.Cmd{Path: "ip", Args: []string{"netns", "exec", ns.Name, openssl, "s_client", "-connect", ref.addr,
				"-CAfile", l.Layout().CACert, "-verify_return_error", m.flag}, Timeout: peerTimeout})
			if !ref.logged("tlsv1 alert unknown ca", offset) || !ref.logged("SSL alert number 48", offset) {
				t.Errorf("openssl s_server did not log the client's alert 48:\n%s", ref.since(offset))
			}
			// The lab.
			since := mark(l)
			run := realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: []string{"s_client", "-starttls", "smtp", "-connect", s.SMTP, "-servername", s.MX,
				"-CAfile", l.Layout().CACert, "-verify_return_error", "-msg", m.flag}, Timeout: peerTimeout})
			if !strings.Contains(run.All(), "certificate verify failed") || !strings.Contains(run.Stdout, "fatal unknown_ca") {
				t.Errorf("s_client did not refuse the certificate with alert unknown_ca")
			}
			rec := nextRecord(t, l, since, s.Name)
			if rec.EndReason != server.EndClosedByClient || rec.AlertReceived == nil || rec.AlertReceived.Code != 48 {
				t.Errorf("record end %s alert_received %+v tls_error %q; want closed-by-client and the client's alert 48 (unknown_ca), as s_server logs it",
					rec.EndReason, rec.AlertReceived, rec.TLSError)
			}
			if rec.AlertSent != nil {
				t.Errorf("the lab answered the client's alert with %+v; a real server just closes", rec.AlertSent)
			}
		})
	}
}

// TestRealPeersGnuTLSCLI drives the scenarios with gnutls-cli
// --starttls-proto=smtp, GnuTLS's own client.
func TestRealPeersGnuTLSCLI(t *testing.T) {
	gnutlsCLI := realpeer.Need(t, realpeer.GnuTLSCli)
	l := startLab(t)
	ca := l.Layout().CACert
	cases := []struct {
		scenario string
		name     string
		sni      bool     // --sni-hostname <MX>; without it gnutls-cli sends none (the host is an IP)
		verify   bool     // --x509cafile <CA> --verify-hostname <MX>, else --insecure
		texts    []string // gnutls-cli must print these
		exit     int
		alert    int // the alert the record must show, 0 for none
		tls      bool
	}{
		{scenario: "sni-reject", name: "sni", sni: true, exit: 1, alert: 47,
			texts: []string{"*** Received alert [47]: Illegal parameter", "*** Fatal error: A TLS fatal alert has been received."}},
		{scenario: "sni-reject", name: "no-sni", tls: true,
			texts: []string{"- Handshake was completed"}},
		{scenario: "no-shared-cipher", name: "sni", sni: true, exit: 1, alert: 40,
			texts: []string{"*** Received alert [40]: Handshake failed", "*** Fatal error: A TLS fatal alert has been received."}},
		{scenario: "baseline", name: "verify", sni: true, verify: true, tls: true,
			texts: []string{"- Status: The certificate is trusted.", "- Handshake was completed"}},
		{scenario: "tlsa-mismatch", name: "verify", sni: true, verify: true, tls: true,
			texts: []string{"- Status: The certificate is trusted.", "- Handshake was completed"}},
		{scenario: "submission", name: "verify", sni: true, verify: true, tls: true,
			texts: []string{"- Status: The certificate is trusted.", "- Handshake was completed"}},
		// gnutls-cli refuses the certificate with an (encrypted) alert 42.
		{scenario: "self-signed", name: "verify", sni: true, verify: true, exit: 1,
			texts: []string{"- Status: The certificate is NOT trusted. The certificate issuer is unknown.", "*** PKI verification of server certificate failed..."}},
	}
	for _, c := range cases {
		t.Run(c.scenario+"/"+c.name, func(t *testing.T) {
			s := site(t, l, c.scenario)
			_, port, _ := net.SplitHostPort(s.SMTP)
			args := []string{"--starttls-proto=smtp", "--port", port}
			if c.sni {
				args = append(args, "--sni-hostname", s.MX)
			}
			if c.verify {
				args = append(args, "--x509cafile", ca, "--verify-hostname", s.MX)
			} else {
				args = append(args, "--insecure")
			}
			args = append(args, "127.0.0.1")
			since := mark(l)
			run := realpeer.Run(t, realpeer.Cmd{Path: gnutlsCLI, Args: args, Timeout: peerTimeout})
			for _, text := range c.texts {
				if !strings.Contains(run.All(), text) {
					t.Errorf("gnutls-cli did not print %q", text)
				}
			}
			if run.Code != c.exit {
				t.Errorf("gnutls-cli exit %d, want %d", run.Code, c.exit)
			}
			if c.scenario == "sni-reject" && !c.sni && !strings.Contains(run.Stdout, "subject `CN="+s.Host+"'") {
				t.Errorf("certificate subject is not CN=%s", s.Host)
			}
			rec := nextRecord(t, l, since, c.scenario)
			checkSNI(t, rec, c.sni, s.MX)
			if got := alertCode(rec); got != c.alert {
				t.Errorf("record alert_sent %d, want %d", got, c.alert)
			}
			if (rec.TLS != nil) != c.tls {
				t.Errorf("record tls %+v, want handshake completed = %v", rec.TLS, c.tls)
			}
		})
	}
}

func alertCode(r server.Record) int {
	if r.AlertSent == nil {
		return 0
	}
	return int(r.AlertSent.Code)
}

// swaksLine is one line of a swaks transcript.
type swaksLine struct {
	fromServer bool
	inTLS      bool
	text       string
}

// swaksTranscript is the dialogue swaks printed.
type swaksTranscript []swaksLine

// parseSwaks reads swaks' dialogue lines: "<-  " and "<~  " server (plain,
// TLS), "<** " and "<~* " server replies swaks took as errors, " -> " and
// " ~> " client.
func parseSwaks(out string) swaksTranscript {
	var lines swaksTranscript
	for _, l := range strings.Split(out, "\n") {
		if len(l) < 4 {
			continue
		}
		switch p := l[:4]; p {
		case "<-  ", "<~  ", "<** ", "<~* ":
			lines = append(lines, swaksLine{fromServer: true, inTLS: p[1] == '~', text: l[4:]})
		case " -> ", " ~> ":
			lines = append(lines, swaksLine{inTLS: p[1] == '~', text: l[4:]})
		}
	}
	return lines
}

// reply returns the server's (possibly multi-line) reply to the first
// client line that starts with prefix, sent in TLS or not.
func (p swaksTranscript) reply(prefix string, inTLS bool) []string {
	for i, l := range p {
		if l.fromServer || l.inTLS != inTLS || !strings.HasPrefix(l.text, prefix) {
			continue
		}
		var out []string
		for _, r := range p[i+1:] {
			if !r.fromServer {
				break
			}
			out = append(out, r.text)
		}
		return out
	}
	return nil
}

// ehloKeywords are the keywords of an EHLO reply's lines.
func ehloKeywords(reply []string) []string {
	if len(reply) < 2 {
		return nil
	}
	return smtpexpect.Keywords(reply)
}

// TestRealPeersSwaks delivers to every scenario with swaks and checks its
// transcript against the scenario's dialect: banner, EHLO keywords before
// and after TLS, the replies to MAIL, RCPT and DATA, and the failures.
func TestRealPeersSwaks(t *testing.T) {
	swaks := realpeer.Need(t, realpeer.Swaks)
	l := startLab(t)
	cases := []struct {
		scenario string
		name     string
		args     []string // beyond server, port, from, to, helo
		starttls bool     // EHLO must list STARTTLS
		tls      bool     // the session must complete TLS
		delivers bool
		texts    []string // swaks must print these
		sni      bool     // --tls-sni <MX>
	}{
		{scenario: "baseline", name: "tls", args: []string{"--tls"}, starttls: true, tls: true, delivers: true},
		{scenario: "tlsa-mismatch", name: "tls", args: []string{"--tls"}, starttls: true, tls: true, delivers: true},
		{scenario: "self-signed", name: "tls", args: []string{"--tls"}, starttls: true, tls: true, delivers: true},
		// swaks sends no SNI unless told to: it delivers, like Postfix.
		{scenario: "sni-reject", name: "tls-no-sni", args: []string{"--tls"}, starttls: true, tls: true, delivers: true},
		{scenario: "sni-reject", name: "tls-sni", args: []string{"--tls"}, sni: true, starttls: true,
			texts: []string{"*** TLS startup failed", "sslv3 alert illegal parameter", "*** STARTTLS attempted but failed"}},
		{scenario: "no-shared-cipher", name: "tls", args: []string{"--tls"}, sni: true, starttls: true,
			texts: []string{"*** TLS startup failed", "sslv3 alert handshake failure", "*** STARTTLS attempted but failed"}},
		{scenario: "no-starttls", name: "tls-optional", args: []string{"--tls-optional"}, delivers: true,
			texts: []string{"*** Host did not advertise STARTTLS"}},
		{scenario: "no-starttls", name: "tls", args: []string{"--tls"},
			texts: []string{"*** Host did not advertise STARTTLS"}},
		{scenario: "submission", name: "tls-auth", args: []string{"--tls", "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p"},
			starttls: true, tls: true, delivers: true, texts: []string{"235 2.7.0 Authentication successful"}},
		{scenario: "submission", name: "no-tls", starttls: true,
			texts: []string{"<** 530 5.7.0 Must issue a STARTTLS command first"}},
		{scenario: "submission", name: "tls-no-auth", args: []string{"--tls"}, starttls: true, tls: true,
			texts: []string{"<~* 530 5.7.0 Authentication required"}},
	}
	for _, c := range cases {
		t.Run(c.scenario+"/"+c.name, func(t *testing.T) {
			s := site(t, l, c.scenario)
			d := dialect(t, s)
			sc := s.Scenario()
			_, port, _ := net.SplitHostPort(s.SMTP)
			args := append([]string{"--server", "127.0.0.1", "--port", port, "--timeout", "10",
				"--helo", "client.example", "--from", "sender@client.example", "--to", "postmaster@" + s.Domain}, c.args...)
			if c.sni {
				args = append(args, "--tls-sni", s.MX)
			}
			since := mark(l)
			run := realpeer.Run(t, realpeer.Cmd{Path: swaks, Args: args, Timeout: peerTimeout})
			out := run.All()
			tr := parseSwaks(out)
			for _, text := range c.texts {
				if !strings.Contains(out, text) {
					t.Errorf("swaks did not print %q", text)
				}
			}
			// Banner.
			if len(tr) == 0 || !tr[0].fromServer || !templateRE("220 "+d.Banner, s.Host).MatchString(tr[0].text) {
				t.Errorf("banner %q does not match the %s dialect's %q", firstText(tr), d.Name, d.Banner)
			}
			// EHLO before TLS.
			ehlo := tr.reply("EHLO", false)
			if len(ehlo) == 0 || !templateRE("250-"+d.EHLOGreeting, s.Host).MatchString(ehlo[0]) {
				t.Errorf("EHLO greeting %q does not match %q", ehlo, d.EHLOGreeting)
			}
			kws := ehloKeywords(ehlo)
			if want := wantKeywords(d, sc, false); !slices.Equal(kws, want) {
				t.Errorf("EHLO keywords %q, want the %s dialect's %q", kws, d.Name, want)
			}
			if slices.Contains(kws, "STARTTLS") != c.starttls {
				t.Errorf("EHLO keywords %q: STARTTLS offered = %v, want %v", kws, !c.starttls, c.starttls)
			}
			if c.scenario == "sni-reject" { // measured: testdata/transcripts/exim-tls.txt
				exim := []string{"SIZE 52428800", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS", "PRDR", "HELP"}
				if !slices.Equal(kws, exim) {
					t.Errorf("EHLO keywords %q, want Exim 4.96's %q", kws, exim)
				}
			}
			// EHLO after TLS.
			if c.tls {
				if !strings.Contains(out, "=== TLS started with cipher ") {
					t.Errorf("swaks did not start TLS")
				}
				if !strings.Contains(out, `=== TLS peer DN="/CN=`+s.Host+`"`) {
					t.Errorf("swaks did not see the certificate for %s", s.Host)
				}
				kws := ehloKeywords(tr.reply("EHLO", true))
				if want := wantKeywords(d, sc, true); !slices.Equal(kws, want) {
					t.Errorf("EHLO keywords in TLS %q, want %q", kws, want)
				}
			}
			// The transaction, in the dialect's words.
			if c.delivers {
				in := c.tls
				for _, step := range []struct {
					cmd string
					key scenarios.Reply
				}{{"MAIL FROM:", scenarios.ReplyMail}, {"RCPT TO:", scenarios.ReplyRcpt}, {"DATA", scenarios.ReplyData}, {".", scenarios.ReplyQueued}, {"QUIT", scenarios.ReplyQuit}} {
					r := tr.reply(step.cmd, in)
					tmpl := d.Replies[step.key]
					if len(r) != 1 || !templateRE(tmpl, s.Host).MatchString(r[0]) {
						t.Errorf("reply to %s %q, want the %s dialect's %q", step.cmd, r, d.Name, tmpl)
					}
				}
				if run.Code != 0 {
					t.Errorf("swaks exit %d, want 0 (delivered)", run.Code)
				}
			} else if run.Code == 0 {
				t.Errorf("swaks exit 0, want a failure")
			}

			rec := nextRecord(t, l, since, c.scenario)
			if (rec.TLS != nil) != c.tls {
				t.Errorf("record tls %+v, want TLS = %v", rec.TLS, c.tls)
			}
			if (rec.Message != nil) != c.delivers {
				t.Errorf("record message %+v, want delivered = %v", rec.Message, c.delivers)
			}
			if rec.ClientHello != nil {
				checkSNI(t, rec, c.sni, s.MX)
			}
			if c.scenario == "submission" && c.delivers {
				if rec.Auth == nil || rec.Auth.Username != "u" || !rec.Auth.Success || rec.Auth.Mechanism != "PLAIN" {
					t.Errorf("record auth %+v, want PLAIN user u, success", rec.Auth)
				}
			}
		})
	}
}

func firstText(tr swaksTranscript) string {
	if len(tr) == 0 {
		return ""
	}
	return tr[0].text
}

// TestRealPeersPosttlsFinger probes every scenario with Postfix's
// posttls-finger at the levels may and secure. It sends no SNI at these
// levels (docs/interop-recipe.md §5), which is the heart of the sni-reject
// incident: it completes TLS with the origin where Gmail gets alert 47.
func TestRealPeersPosttlsFinger(t *testing.T) {
	finger := realpeer.Need(t, realpeer.PosttlsFinger)
	l := startLab(t)
	ca := l.Layout().CACert
	// posttls-finger reads main.cf (docs/interop-recipe.md §8.1). No
	// CApath and no default CAs: only the lab CA (-F) is trusted.
	conf := t.TempDir()
	mainCF := "compatibility_level = 3.6\ninet_protocols = ipv4\nmyhostname = client.example\n" +
		"smtp_tls_loglevel = 1\nsmtp_tls_CApath =\ntls_append_default_CA = no\n"
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	// Postfix re-reads a config file younger than a second every 0.3 s
	// until it "cools down" (util/dict.c, dict_load_file_xt): date it back.
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(conf, "main.cf"), past, past); err != nil {
		t.Fatal(err)
	}
	env := []string{"MAIL_CONFIG=" + conf}

	cases := []struct {
		scenario, level string
		match           string   // "mx", "host" or "" for the level's default
		texts           []string // with {dest} for 127.0.0.1[127.0.0.1]:PORT
		tls             bool     // the handshake completes
		alert           int
		anonymous       bool // the ClientHello offers anonymous suites
	}{
		{scenario: "sni-reject", level: "may", tls: true, anonymous: true,
			texts: []string{"Trusted TLS connection established to {dest}: TLSv1.3"}},
		// The certificate names the origin, not the _dc-mx MX.
		{scenario: "sni-reject", level: "secure", match: "mx", tls: true,
			texts: []string{"server certificate verification failed for {dest}: num=62:hostname mismatch", "Untrusted TLS connection established to {dest}"}},
		{scenario: "sni-reject", level: "secure", match: "host", tls: true,
			texts: []string{"matched peername: {host}", "Verified TLS connection established to {dest}"}},
		{scenario: "no-shared-cipher", level: "may", alert: 40, anonymous: true,
			texts: []string{"SSL_connect error to {dest}: -1", "sslv3 alert handshake failure", "SSL alert number 40"}},
		{scenario: "no-shared-cipher", level: "secure", match: "mx", alert: 40,
			texts: []string{"SSL_connect error to {dest}: -1", "SSL alert number 40"}},
		{scenario: "self-signed", level: "may", tls: true, anonymous: true,
			texts: []string{"Untrusted TLS connection established to {dest}"}},
		{scenario: "self-signed", level: "secure", match: "mx", tls: true,
			texts: []string{"certificate verification failed for {dest}: self-signed certificate", "Untrusted TLS connection established to {dest}"}},
		{scenario: "baseline", level: "may", tls: true, anonymous: true,
			texts: []string{"Trusted TLS connection established to {dest}"}},
		{scenario: "baseline", level: "secure", match: "mx", tls: true,
			texts: []string{"matched peername: {mx}", "Verified TLS connection established to {dest}"}},
		{scenario: "tlsa-mismatch", level: "secure", match: "mx", tls: true,
			texts: []string{"matched peername: {mx}", "Verified TLS connection established to {dest}"}},
		{scenario: "submission", level: "secure", match: "mx", tls: true,
			texts: []string{"matched peername: {mx}", "Verified TLS connection established to {dest}"}},
		// Without -c the chat shows the EHLO reply: no STARTTLS, so no TLS.
		{scenario: "no-starttls", level: "may",
			texts: []string{"< 250 HELP", "> QUIT"}},
	}
	for _, c := range cases {
		name := c.scenario + "/" + c.level
		if c.match != "" {
			name += "/match-" + c.match
		}
		t.Run(name, func(t *testing.T) {
			s := site(t, l, c.scenario)
			args := []string{"-t", "10", "-T", "10", "-l", c.level, "-F", ca}
			if c.scenario != "no-starttls" {
				args = append(args, "-c") // TLS lines only
			}
			args = append(args, "["+s.Addr().Addr().String()+"]:"+fmt.Sprint(s.Addr().Port()))
			switch c.match {
			case "mx":
				args = append(args, s.MX)
			case "host":
				args = append(args, s.Host)
			}
			since := mark(l)
			run := realpeer.Run(t, realpeer.Cmd{Path: finger, Args: args, Env: env, Timeout: peerTimeout})
			r := strings.NewReplacer("{dest}", "127.0.0.1[127.0.0.1]:"+fmt.Sprint(s.Addr().Port()), "{mx}", s.MX, "{host}", s.Host)
			for _, text := range c.texts {
				if !strings.Contains(run.All(), r.Replace(text)) {
					t.Errorf("posttls-finger did not print %q", r.Replace(text))
				}
			}
			if strings.Contains(run.All(), "TLS connection established") != c.tls {
				t.Errorf("posttls-finger: TLS connection established = %v, want %v", !c.tls, c.tls)
			}
			if c.scenario == "no-starttls" && strings.Contains(run.All(), "STARTTLS") {
				t.Errorf("posttls-finger saw STARTTLS offered")
			}
			rec := nextRecord(t, l, since, c.scenario)
			if c.scenario == "no-starttls" {
				if rec.ClientHello != nil || rec.Counts != "ehlo=1 quit=1 commands=2" {
					t.Errorf("record client_hello %+v counts %q, want no TLS, ehlo=1 quit=1", rec.ClientHello, rec.Counts)
				}
				return
			}
			// Postfix below dane sends no SNI.
			checkSNI(t, rec, false, s.MX)
			if (rec.TLS != nil) != c.tls || alertCode(rec) != c.alert {
				t.Errorf("record tls %+v alert %d, want TLS = %v, alert %d", rec.TLS, alertCode(rec), c.tls, c.alert)
			}
			if rec.ClientHello.AnonymousOffered != c.anonymous {
				t.Errorf("record anonymous_offered %v, want %v (posttls-finger offers aNULL suites at may)", rec.ClientHello.AnonymousOffered, c.anonymous)
			}
			// What a 2015 OpenSSL 1.0 sendmail would have done with them.
			if c.scenario == "no-shared-cipher" && (rec.LegacyWould != nil) != c.anonymous {
				t.Errorf("record legacy_server_would %+v, want one exactly when anonymous suites were offered", rec.LegacyWould)
			}
			if c.tls && rec.EndReason != server.EndQuit && rec.EndReason != server.EndReset {
				// posttls-finger QUITs; a reset is possible with session
				// tickets (docs/interop-recipe.md §6b).
				t.Errorf("record end %s, want quit (or reset)", rec.EndReason)
			}
		})
	}
}

// TestRealPeersSameBytes sends the same ClientHello bytes to the lab (after
// EHLO, STARTTLS, 220) and to the real server the scenario imitates
// (gnutls-serv for sni-reject, openssl s_server -nocert for
// no-shared-cipher), in a network namespace in the same run, and reads
// everything each writes until it closes: the bytes must be identical, the
// close a FIN on both sides, nothing after the alert. The ClientHellos are
// the ones captured from real clients (SNI rewritten to the lab's MX) and
// one Go's crypto/tls makes live.
func TestRealPeersSameBytes(t *testing.T) {
	realpeer.NeedNetns(t)
	l := startLab(t)
	ns := netns.New(t)

	type hello struct {
		name  string
		bytes []byte
		want  string // the alert record both must write
		log   string // what the real server logs, and the lab records
	}
	for _, ref := range []struct {
		scenario string
		start    func(*testing.T, *netns.NS) *refServer
		hellos   func(mx string) []hello
	}{
		{"sni-reject", startGnuTLSServ, func(mx string) []hello {
			const disallowed = "A disallowed SNI server name has been received."
			sni := hostName(mx)
			return []hello{
				{"openssl-default", withServerName(t, captured(t, "openssl-default"), sni), "15 03 03 00 02 02 2f", disallowed},
				{"openssl-tls1_2", withServerName(t, captured(t, "openssl-tls1_2"), sni), "15 03 03 00 02 02 2f", disallowed},
				{"openssl-tls1_3", withServerName(t, captured(t, "openssl-tls1_3"), sni), "15 03 03 00 02 02 2f", disallowed},
				{"openssl-tls1", withServerName(t, captured(t, "openssl-tls1"), sni), "15 03 01 00 02 02 2f", disallowed},
				{"openssl-adh-tls1_2", withServerName(t, captured(t, "openssl-adh-tls1_2"), sni), "15 03 03 00 02 02 2f", disallowed},
				{"gnutls-cli", withServerName(t, captured(t, "gnutls-cli"), sni), "15 03 03 00 02 02 2f", disallowed},
				{"go-captured", withServerName(t, captured(t, "go"), sni), "15 03 03 00 02 02 2f", disallowed},
				{"go-live", goClientHello(t, mx), "15 03 03 00 02 02 2f", disallowed},
				// server_name with a zero-length host_name: decode_error.
				{"empty-name", withServerName(t, captured(t, "openssl-default"), hostName("")), "15 03 03 00 02 02 32",
					"Error decoding the received TLS packet."},
			}
		}},
		{"no-shared-cipher", startSServerNoCert, func(mx string) []hello {
			sni := hostName(mx)
			return []hello{
				{"openssl-default", withServerName(t, captured(t, "openssl-default"), sni), "15 03 03 00 02 02 28", "no shared cipher"},
				{"openssl-tls1_2", withServerName(t, captured(t, "openssl-tls1_2"), sni), "15 03 03 00 02 02 28", "no shared cipher"},
				// TLS 1.3 only: OpenSSL without a certificate has no TLS 1.3.
				{"openssl-tls1_3", withServerName(t, captured(t, "openssl-tls1_3"), sni), "15 03 03 00 02 02 46", "unsupported protocol"},
				{"openssl-tls1", withServerName(t, captured(t, "openssl-tls1"), sni), "15 03 01 00 02 02 28", "no shared cipher"},
				// s_server's default list has no aNULL either.
				{"openssl-adh-tls1_2", withServerName(t, captured(t, "openssl-adh-tls1_2"), sni), "15 03 03 00 02 02 28", "no shared cipher"},
				{"gnutls-cli", withServerName(t, captured(t, "gnutls-cli"), sni), "15 03 03 00 02 02 28", "no shared cipher"},
				{"go-captured", withServerName(t, captured(t, "go"), sni), "15 03 03 00 02 02 28", "no shared cipher"},
				{"go-live", goClientHello(t, mx), "15 03 03 00 02 02 28", "no shared cipher"},
			}
		}},
	} {
		t.Run(ref.scenario, func(t *testing.T) {
			s := site(t, l, ref.scenario)
			srv := ref.start(t, ns)
			for _, h := range ref.hellos(s.MX) {
				t.Run(h.name, func(t *testing.T) {
					// The real server.
					offset := srv.mark()
					c, err := ns.Dial(srv.addr, 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					refGot, refEnd := exchange(c, h.bytes)
					c.Close()
					// The lab.
					since := mark(l)
					d := starttls(t, s)
					labGot, labEnd := exchange(d.Conn, h.bytes)
					t.Logf("%s: reference wrote [% x] then %s; lab wrote [% x] then %s", h.name, refGot, endName(refEnd), labGot, endName(labEnd))

					if hexBytes(refGot) != h.want {
						t.Errorf("reference server wrote [%s], want [%s] (docs/real-peers.md §1a, §2)", hexBytes(refGot), h.want)
					}
					if !bytes.Equal(labGot, refGot) {
						t.Errorf("lab wrote [%s], the real server [%s]", hexBytes(labGot), hexBytes(refGot))
					}
					if endName(refEnd) != "FIN" || endName(labEnd) != "FIN" {
						t.Errorf("ends: reference %s, lab %s; want FIN from both", endName(refEnd), endName(labEnd))
					}
					if !srv.logged(h.log, offset) {
						t.Errorf("reference server did not log %q:\n%s", h.log, srv.since(offset))
					}
					rec := recordFrom(t, l, since, d.Conn)
					if rec.TLSError != h.log {
						t.Errorf("record tls_error %q, want the real server's words %q", rec.TLSError, h.log)
					}
					if want, _ := hex.DecodeString(h.want[len(h.want)-2:]); alertCode(rec) != int(want[0]) || rec.EndReason != server.EndClosedByLab {
						t.Errorf("record alert %d end %s, want %d and closed-by-lab", alertCode(rec), rec.EndReason, want[0])
					}
				})
			}
		})
	}

	// A TLS 1.0 client that sends no SNI: GnuTLS's NORMAL priority, which
	// Exim uses unless tls_require_ciphers is set (exim-4.96
	// src/src/tls-gnu.c: exim_default_gnutls_priority = "NORMAL"), still
	// negotiates TLS 1.0 on Debian 12. The lab must answer the same way:
	// a ServerHello for TLS 1.0, not an alert.
	t.Run("sni-reject/openssl-tls1-no-sni", func(t *testing.T) {
		s := site(t, l, "sni-reject")
		srv := startGnuTLSServ(t, ns)
		h := withoutServerName(t, captured(t, "openssl-tls1"))
		c, err := ns.Dial(srv.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		refGot := firstRecord(c, h)
		c.Close()
		d := starttls(t, s)
		labGot := firstRecord(d.Conn, h)
		t.Logf("reference's first record [% x], lab's [% x]", refGot[:min(len(refGot), 11)], labGot[:min(len(labGot), 11)])
		if len(refGot) < 11 || refGot[0] != 22 || refGot[5] != 2 {
			t.Fatalf("reference did not answer with a ServerHello: [% x]", refGot[:min(len(refGot), 11)])
		}
		// Content type, record version, handshake type, server_version.
		if len(labGot) < 11 || labGot[0] != refGot[0] || !bytes.Equal(labGot[1:3], refGot[1:3]) || labGot[5] != refGot[5] || !bytes.Equal(labGot[9:11], refGot[9:11]) {
			t.Errorf("lab answered [% x], the real server a ServerHello with server_version %02x%02x [% x]",
				labGot[:min(len(labGot), 11)], refGot[9], refGot[10], refGot[:11])
		}
	})
}

// withoutServerName drops the server_name extension of a one-record
// ClientHello.
func withoutServerName(t *testing.T, record []byte) []byte {
	t.Helper()
	return withServerName(t, record, nil)
}

// firstRecord sends hello and returns the first record the peer writes
// (or what it wrote before closing).
func firstRecord(c net.Conn, hello []byte) []byte {
	c.SetDeadline(time.Now().Add(exchangeTimeout))
	if _, err := c.Write(hello); err != nil {
		return nil
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || len(got) >= 5 && len(got) >= 5+int(got[3])<<8|int(got[4]) {
			return got
		}
	}
}

// TestRealPeersGarbageAfterSTARTTLS: a client that keeps talking
// plaintext after "220 Ready to start TLS" ends that session, and the lab
// answers as the server it imitates does. Exim (GnuTLS) writes fatal
// alert 10 unexpected_message and closes with a FIN: compared with
// gnutls-serv in the same run. Postfix and sendmail (OpenSSL) read the
// 5-byte record header, write nothing and close with the rest unread, so
// the kernel resets the connection: measured on Debian 12's Postfix 3.7.11
// and sendmail 8.17.1.9 ("RST, no bytes"; their log: "wrong version
// number"). openssl s_server is no reference here: it drains its input
// and sends a FIN. Never a plaintext 550 (go-smtp would write one). The
// session is recorded with its reason, and the scenario's next client, a
// real one, is served as usual.
func TestRealPeersGarbageAfterSTARTTLS(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	realpeer.NeedNetns(t)
	l := startLab(t)
	ns := netns.New(t)
	gnutls := startGnuTLSServ(t, ns)
	garbage := []byte("EHLO again\r\n")
	for _, s := range l.Layout().Scenarios {
		if !s.Scenario().SMTP.OffersSTARTTLS() {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			var refGot []byte
			refEnd := error(syscall.ECONNRESET) // Postfix and sendmail, measured
			if s.Scenario().Imitates == "exim" {
				c, err := ns.Dial(gnutls.addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				refGot, refEnd = exchange(c, garbage)
				c.Close()
			}
			since := mark(l)
			d := starttls(t, s)
			labGot, labEnd := exchange(d.Conn, garbage)
			t.Logf("%q after STARTTLS: reference wrote [% x] then %s; lab wrote [% x] then %s", garbage, refGot, endName(refEnd), labGot, endName(labEnd))
			if !bytes.Equal(labGot, refGot) || endName(labEnd) != endName(refEnd) {
				t.Errorf("lab wrote [%s] then %s; the real server [%s] then %s", hexBytes(labGot), endName(labEnd), hexBytes(refGot), endName(refEnd))
			}
			if bytes.Contains(labGot, []byte("550")) {
				t.Errorf("lab answered in plaintext: %q", labGot)
			}
			rec := recordFrom(t, l, since, d.Conn)
			if rec.TLSError == "" || rec.TLS != nil || !strings.Contains(rec.Counts, "starttls=0/1") {
				t.Errorf("record tls_error %q tls %+v counts %q, want the reason and a failed STARTTLS", rec.TLSError, rec.TLS, rec.Counts)
			}
			// The client broke the protocol and the lab hung up: the
			// client reset nothing.
			if rec.EndReason != server.EndClosedByLab {
				t.Errorf("record end %s (notes %q), want closed-by-lab", rec.EndReason, rec.Notes)
			}
			if len(refGot) == 7 && refGot[0] == 21 && alertCode(rec) != int(refGot[6]) {
				t.Errorf("record alert_sent %d, want %d as written", alertCode(rec), refGot[6])
			}

			// The next client is served.
			since = mark(l)
			run := realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: []string{"s_client", "-starttls", "smtp", "-connect", s.SMTP, "-noservername"}, Timeout: peerTimeout})
			next := nextRecord(t, l, since, s.Name)
			want := sClientExpect(s, "default", false)
			if want.alert != "" {
				if !strings.Contains(run.All(), want.texts[len(want.texts)-1]) || alertCode(next) == 0 {
					t.Errorf("next client: no %q", want.texts[len(want.texts)-1])
				}
			} else if next.TLS == nil || !strings.Contains(run.Stdout, "New, TLSv1.3") {
				t.Errorf("next client: handshake did not complete (record tls %+v)", next.TLS)
			}
		})
	}
}
