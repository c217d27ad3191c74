// Real-peer tests of the receiving lab: every scenario driven by the TLS
// clients and MTA tools Debian ships (openssl s_client, gnutls-cli, swaks,
// Postfix's posttls-finger), and the same ClientHello bytes sent to the lab
// and to the real misconfigured servers (gnutls-serv, openssl s_server
// -nocert) in one run. What each client must show is computed from the
// scenario's knobs (realpeers_knobs_test.go), never from its name, so a
// new scenario file is driven with no Go change; certificate and version
// knobs are also compared with openssl s_server serving the lab's own
// files (realpeers_certref_test.go). A missing tool ends the test as internal/realpeer's
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
	"github.com/mxlab/mxlab/tlsalert"
)

// sClientAlertRE finds, in s_client -msg output, the alert record it
// received: the record header's bytes, then the alert's level, name and
// bytes.
var sClientAlertRE = regexp.MustCompile(`<<< [^\n]*RecordHeader \[length 0005\]\n\s+([0-9a-f ]+)\n<<< [^\n]*Alert \[length 0002\], (fatal|warning) ([a-z_]+)\n\s+([0-9a-f ]+)\n`)

var (
	sClientSubjectRE  = regexp.MustCompile(`(?m)^ 0 s:(.*)$`)
	sClientIssuerRE   = regexp.MustCompile(`(?m)^   i:(.*)$`)
	sClientDepthRE    = regexp.MustCompile(`(?m)^ \d+ s:`)
	sClientNewRE      = regexp.MustCompile(`(?m)^New, (\S+), Cipher is (\S+)$`)
	sClientProtocolRE = regexp.MustCompile(`(?m)^\s+Protocol  : (\S+)$`)
	sClientVerifyRE   = regexp.MustCompile(`(?m)^\s*Verify return code: (.*)$`) // indented in TLS 1.2's SSL-Session block
	sClientVerifyErr  = regexp.MustCompile(`(?m)^verify error:num=(\d+:.*)$`)
	// The record header of the ServerHello (its version is the one the
	// server chose, below TLS 1.3), and the alert s_client then sent.
	sClientServerHelloRE = regexp.MustCompile(`<<< [^\n]*RecordHeader \[length 0005\]\n\s+16 ([0-9a-f]{2}) ([0-9a-f]{2})[^\n]*\n<<< [^\n]*ServerHello`)
	sClientSentAlertRE   = regexp.MustCompile(`>>> [^\n]*Alert \[length 0002\], fatal ([a-z_]+)`)
)

// stage is how far a client's session gets, as the knobs say.
type stage int

const (
	// stageNoGreeting: the connection closes before any banner (a fault
	// at connect).
	stageNoGreeting stage = iota
	// stageRefused: STARTTLS is answered with something else than 220
	// (a fault at starttls); the session stays in plaintext.
	stageRefused
	// stageDropped: "220 Ready to start TLS", then the connection
	// closes without the ClientHello being read (a fault at tls-ready).
	stageDropped
	// stageTLS: the ClientHello is read and the handshake goes as
	// negotiate says.
	stageTLS
)

// sessionStage reads the faults of the dialogue up to the ClientHello.
func sessionStage(sc *scenarios.Scenario) stage {
	switch {
	case !greets(sc):
		return stageNoGreeting
	case startTLSRefusal(sc) != "":
		return stageRefused
	case faultAt(sc, scenarios.AtTLSReady) != nil && faultAt(sc, scenarios.AtTLSReady).Do != scenarios.DoAlert:
		return stageDropped
	}
	return stageTLS
}

// sClientWant is what openssl s_client must show for one run.
type sClientWant struct {
	stage stage
	// fault is the fault that ends the dialogue before TLS, if any.
	fault *scenarios.Fault
	// hs is the handshake, for stageTLS.
	hs handshake
	// alert is the alert record received ("15 03 03 00 02 02 2f"); empty
	// when the server sends none.
	alert string
	// texts must appear in s_client's output.
	texts []string
	// subject and issuer of the certificate, verify the verify result,
	// verifyErrors the errors s_client reports on the way, depth the
	// number of certificates sent, when the handshake completes.
	subject, issuer, verify string
	verifyErrors            []string
	depth                   int
	// helloRead: the lab read the ClientHello (else no SNI to record).
	helloRead bool
}

// verifyName is the name s_client checks the certificate against
// (-verify_hostname): the server's own host name, the MX name unless the
// scenario's host says otherwise (a proxied MX name points at an origin
// whose certificate names the origin).
func verifyName(s *lab.Site) string { return s.Host }

// sClientExpect is what the scenario's knobs make s_client show in a mode
// (default, tls1_2, tls1_3, tls1) with or without the MX name as SNI.
func sClientExpect(t *testing.T, l *lab.Lab, s *lab.Site, mode string, sni bool) sClientWant {
	t.Helper()
	sc := s.Scenario()
	w := sClientWant{stage: sessionStage(sc)}
	switch w.stage {
	case stageNoGreeting:
		w.fault = faultAt(sc, scenarios.AtConnect)
		w.texts = []string{"SSL handshake has read 0 bytes"}
		return w
	case stageRefused:
		w.fault = faultAt(sc, scenarios.AtSTARTTLS)
		return w
	case stageDropped:
		w.fault = faultAt(sc, scenarios.AtTLSReady)
		return w
	}
	if f := faultAt(sc, scenarios.AtTLSReady); f != nil { // an alert before the ClientHello is read
		d, err := tlsalert.ParseDescription(f.Alert)
		if err != nil {
			t.Fatal(err)
		}
		w.fault, w.hs = f, handshake{serverAlert: d, sent: true, alertVersion: tls12}
	} else {
		name := ""
		if sni {
			name = s.MX
		}
		w.hs = negotiate(t, sc, opensslClient(mode, name))
		w.helloRead = true
	}
	switch {
	case w.hs.sent:
		w.alert = recordHex(w.hs.serverAlert, w.hs.alertVersion)
		w.texts = []string{opensslAlert(w.hs.serverAlert), fmt.Sprintf("SSL alert number %d", w.hs.serverAlert)}
		return w
	case w.hs.received:
		w.texts = []string{w.hs.reason}
		return w
	}
	c := certificate(t, l, s)
	w.subject = "CN = " + c.names[0]
	w.issuer = opensslDN(c.issuer, false)
	w.depth = c.depth
	w.verifyErrors = c.opensslVerify(verifyName(s))
	if len(w.verifyErrors) == 0 {
		w.verify = "0 (ok)"
		w.texts = []string{"Verification: OK", "Verified peername: " + verifyName(s)}
		return w
	}
	last := w.verifyErrors[len(w.verifyErrors)-1]
	code, text, _ := strings.Cut(last, ":")
	w.verify = code + " (" + text + ")"
	w.texts = []string{"Verification error: " + text}
	return w
}

// TestRealPeersOpenSSL drives every scenario with `openssl s_client
// -starttls smtp` in its default mode, -tls1_2 and -tls1_3 (and -tls1
// where the knobs reach TLS 1.0 or refuse ClientHellos), with the MX name
// as SNI and with -noservername. It checks what the scenario's knobs
// promise (sClientExpect): the alert s_client received byte for byte (its
// -msg dump), the alert it sent, or the certificate it got and how it
// verified against the lab CA, and the session record the lab kept of the
// same session (SNI, alerts, TLS version, end).
func TestRealPeersOpenSSL(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	l := startLab(t)
	ca := l.Layout().CACert

	type mode struct {
		name string
		args []string
	}
	modes := []mode{
		{"default", nil},
		{"tls1_2", []string{"-tls1_2"}},
		{"tls1_3", []string{"-tls1_3"}},
	}
	// TLS 1.0 where the knobs let a TLS 1.0 client in, or refuse
	// ClientHellos before any version is agreed (the alert's record
	// version must then be 03 01).
	tls1 := mode{"tls1", []string{"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}}

	for _, s := range l.Layout().Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			sc := s.Scenario()
			checkModelled(t, sc)
			if greets(sc) && !sc.SMTP.OffersSTARTTLS() {
				testNoSTARTTLS(t, l, s, openssl)
				return
			}
			ms := modes
			if lo, _ := versionWindow(sc); lo <= tls10 || len(rejectRules(t, sc)) > 0 {
				ms = append(slices.Clone(modes), tls1)
			}
			for _, m := range ms {
				for _, sni := range []bool{true, false} {
					name := m.name + "/sni"
					args := []string{"s_client", "-starttls", "smtp", "-connect", s.SMTP, "-msg", "-CAfile", ca, "-verify_hostname", verifyName(s)}
					if sni {
						args = append(args, "-servername", s.MX)
					} else {
						name = m.name + "/no-sni"
						args = append(args, "-noservername")
					}
					want := sClientExpect(t, l, s, m.name, sni)
					if want.verify == "0 (ok)" {
						args = append(args, "-verify_return_error")
					}
					args = append(args, m.args...)
					t.Run(name, func(t *testing.T) {
						since := mark(l)
						run := realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: args, Timeout: peerTimeout})
						rec := nextRecord(t, l, since, s.Name)
						checkSClient(t, run, rec, want)
						if want.helloRead {
							checkSNI(t, rec, sni, s.MX)
						}
					})
				}
			}
		})
	}
}

// checkFaultNote checks that the record says which fault ended the
// session, in the words server/faults.go writes.
func checkFaultNote(t *testing.T, rec server.Record, f *scenarios.Fault) {
	t.Helper()
	want := fmt.Sprintf("fault: %s at %s", f.Do, f.At)
	if !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
		t.Errorf("record notes %q, want %q", rec.Notes, want)
	}
}

// checkSClient compares one s_client run and the lab's record of it with
// what the scenario must show.
func checkSClient(t *testing.T, run realpeer.Result, rec server.Record, want sClientWant) {
	t.Helper()
	out := run.All()
	for _, text := range want.texts {
		if !strings.Contains(out, text) {
			t.Errorf("s_client did not print %q", text)
		}
	}
	switch want.stage {
	case stageNoGreeting, stageRefused, stageDropped:
		// s_client sends its ClientHello whatever the server said
		// (apps/s_client.c reads the STARTTLS reply and ignores it), and
		// no TLS record comes back.
		if strings.Contains(out, "ServerHello") || !strings.Contains(out, "New, (NONE), Cipher is (NONE)") || run.Code == 0 {
			t.Errorf("s_client exit %d; want no ServerHello and a failed handshake", run.Code)
		}
		if want.stage != stageRefused && strings.Contains(run.Stdout, "<<< ") {
			t.Errorf("s_client received a TLS record; the server said nothing after %s", want.fault.At)
		}
		if rec.ClientHello != nil || rec.TLS != nil || rec.AlertSent != nil {
			t.Errorf("record client_hello %+v tls %+v alert %+v, want none: the lab never read a ClientHello", rec.ClientHello, rec.TLS, rec.AlertSent)
		}
		if want.stage == stageNoGreeting && (len(rec.Commands) != 0 || rec.EndReason != server.EndClosedByLab) {
			t.Errorf("record commands %q end %s, want none and closed-by-lab", rec.Commands, rec.EndReason)
		}
		if want.stage != stageNoGreeting && !strings.Contains(rec.Counts, "starttls=0/1") {
			t.Errorf("record counts %q, want a failed STARTTLS", rec.Counts)
		}
		if want.stage == stageDropped && rec.EndReason != server.EndClosedByLab {
			t.Errorf("record end %s, want closed-by-lab", rec.EndReason)
		}
		checkFaultNote(t, rec, want.fault)
		return
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
	if want.hs.received {
		// The server chose a version (its ServerHello's record says
		// which) and s_client gave up with an alert of its own.
		if m := sClientServerHelloRE.FindStringSubmatch(run.Stdout); m == nil || m[1]+m[2] != fmt.Sprintf("%04x", want.hs.serverHello) {
			t.Errorf("ServerHello record version %q, want %04x", m, want.hs.serverHello)
		}
		if m := sClientSentAlertRE.FindStringSubmatch(run.Stdout); m == nil || m[1] != want.hs.clientAlert.String() {
			t.Errorf("s_client sent alert %q, want %s", m, want.hs.clientAlert)
		}
		if !strings.Contains(out, "New, (NONE), Cipher is (NONE)") || run.Code == 0 {
			t.Errorf("s_client exit %d; want a failed handshake", run.Code)
		}
		if rec.AlertReceived == nil || rec.AlertReceived.Code != int(want.hs.clientAlert) || rec.AlertSent != nil || rec.TLS != nil {
			t.Errorf("record alert_received %+v alert_sent %+v tls %+v, want the client's %s and nothing sent", rec.AlertReceived, rec.AlertSent, rec.TLS, want.hs.clientAlert)
		}
		if rec.EndReason != server.EndClosedByClient {
			t.Errorf("record end %s, want closed-by-client", rec.EndReason)
		}
		return
	}
	version := opensslVersion(want.hs.version)
	if want.hs.version >= tls12 { // below, "New," names the cipher's own version (TLSv1.0)
		if m := sClientNewRE.FindStringSubmatch(out); m == nil || m[1] != version {
			t.Errorf("s_client negotiated %q, want %s", m, version)
		}
	}
	// The SSL-Session block names the version; in TLS 1.3 s_client
	// prints it only on a session ticket, which not every server sends.
	if m := sClientProtocolRE.FindStringSubmatch(out); (m == nil && want.hs.version < tls13) || m != nil && m[1] != version {
		t.Errorf("s_client protocol %q, want %s", m, version)
	}
	if m := sClientSubjectRE.FindStringSubmatch(out); m == nil || m[1] != want.subject {
		t.Errorf("certificate subject %q, want %q", m, want.subject)
	}
	if m := sClientIssuerRE.FindStringSubmatch(out); m == nil || m[1] != want.issuer {
		t.Errorf("certificate issuer %q, want %q", m, want.issuer)
	}
	if n := len(sClientDepthRE.FindAllString(out, -1)); n != want.depth {
		t.Errorf("certificate chain of %d, want %d", n, want.depth)
	}
	if m := sClientVerifyRE.FindStringSubmatch(out); m == nil || m[1] != want.verify {
		t.Errorf("Verify return code %q, want %q", m, want.verify)
	}
	var errs []string
	for _, m := range sClientVerifyErr.FindAllStringSubmatch(run.Stderr, -1) {
		errs = append(errs, m[1])
	}
	if !slices.Equal(errs, want.verifyErrors) {
		t.Errorf("verify errors %q, want %q", errs, want.verifyErrors)
	}
	if run.Code != 0 {
		t.Errorf("s_client exit %d, want 0", run.Code)
	}
	if rec.TLS == nil || rec.TLS.Version != recordVersion(want.hs.version) || rec.AlertSent != nil {
		t.Errorf("record tls %+v alert %+v, want %s and no alert", rec.TLS, rec.AlertSent, recordVersion(want.hs.version))
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
		dl := dialect(t, s)
		tmpl := dl.Replies[scenarios.ReplyStartTLSNotOffered]
		if _, lines := d.Reply(); len(lines) != 1 || !templateRE(tmpl, s.Host).MatchString(lines[0]) {
			t.Errorf("STARTTLS got %q, want the %s dialect's %q", lines, dl.Name, tmpl)
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

// TestRealPeersGnuTLSCLI drives every scenario with gnutls-cli
// --starttls-proto=smtp, GnuTLS's own client: with the MX name as SNI and
// without, both --insecure, and verifying against the lab CA and the
// server's host name. What it must print comes from the knobs.
func TestRealPeersGnuTLSCLI(t *testing.T) {
	gnutlsCLI := realpeer.Need(t, realpeer.GnuTLSCli)
	l := startLab(t)
	ca := l.Layout().CACert
	for _, s := range l.Layout().Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			sc := s.Scenario()
			checkModelled(t, sc)
			for _, v := range []struct {
				name        string
				sni, verify bool // --sni-hostname <MX>; --x509cafile <CA> --verify-hostname <host>, else --insecure
			}{{"sni", true, false}, {"no-sni", false, false}, {"verify", true, true}} {
				t.Run(v.name, func(t *testing.T) {
					_, port, _ := net.SplitHostPort(s.SMTP)
					args := []string{"--starttls-proto=smtp", "--port", port}
					if v.sni {
						args = append(args, "--sni-hostname", s.MX)
					}
					if v.verify {
						args = append(args, "--x509cafile", ca, "--verify-hostname", verifyName(s))
					} else {
						args = append(args, "--insecure")
					}
					testGnuTLSCLI(t, l, s, gnutlsCLI, args, v.sni, v.verify)
				})
			}
		})
	}
}

// gnutlsStatus is gnutls-cli's verdict on the certificate
// (gnutls_certificate_verification_status_print, in its order).
func gnutlsStatus(c certWant, host string) string {
	var why []string
	if !c.trusted {
		why = append(why, "The certificate issuer is unknown.")
	}
	if c.notYetValid {
		why = append(why, "The certificate chain uses not yet activated certificate.")
	}
	if c.expired {
		why = append(why, "The certificate chain uses expired certificate.")
	}
	if !c.covers(host) {
		why = append(why, "The name in the certificate does not match the expected.")
	}
	if len(why) == 0 {
		return "- Status: The certificate is trusted."
	}
	return "- Status: The certificate is NOT trusted. " + strings.Join(why, " ")
}

// testGnuTLSCLI runs gnutls-cli once against a site and checks it and
// the lab's record against the knobs.
func testGnuTLSCLI(t *testing.T, l *lab.Lab, s *lab.Site, gnutlsCLI string, args []string, sni, verify bool) {
	sc := s.Scenario()
	st := sessionStage(sc)
	if greets(sc) && (!sc.SMTP.OffersSTARTTLS() || st == stageRefused) {
		// gnutls-cli waits for a "220 " after STARTTLS and prints
		// nothing meanwhile (src/socket.c, wait_for_text): it is stopped
		// once the server's answer has gone past a relay.
		want := startTLSRefusal(sc)
		if want == "" {
			want = dialect(t, s).Replies[scenarios.ReplyStartTLSNotOffered]
		}
		since := mark(l)
		r := startRelay(t, s.SMTP)
		_, port, _ := net.SplitHostPort(r.addr)
		args = slices.Clone(args)
		args[slices.Index(args, "--port")+1] = port
		re := templateRE(want, s.Host)
		runPeerUntilFunc(t, func(string) bool {
			lines := strings.Split(r.fromServer.String(), "\r\n")
			return slices.ContainsFunc(lines, re.MatchString)
		}, gnutlsCLI, append(args, "127.0.0.1")...)
		if bytes.Contains([]byte(r.fromClient.String()), []byte{22, 3}) {
			t.Errorf("gnutls-cli sent a TLS record after %q", want)
		}
		rec := nextRecord(t, l, since, s.Name)
		if rec.ClientHello != nil || rec.TLS != nil || !strings.Contains(rec.Counts, "starttls=0/1") {
			t.Errorf("record client_hello %+v tls %+v counts %q, want no TLS and a refused STARTTLS", rec.ClientHello, rec.TLS, rec.Counts)
		}
		return
	}
	since := mark(l)
	run := realpeer.Run(t, realpeer.Cmd{Path: gnutlsCLI, Args: append(args, "127.0.0.1"), Timeout: peerTimeout})
	rec := nextRecord(t, l, since, s.Name)
	out := run.All()
	expect := func(texts ...string) {
		t.Helper()
		for _, text := range texts {
			if !strings.Contains(out, text) {
				t.Errorf("gnutls-cli did not print %q", text)
			}
		}
	}
	exit, alert, tls := 1, 0, false
	switch st {
	case stageNoGreeting:
		// EOF where the banner should be (gnutls-cli calls it a timeout).
		expect("error receiving '220 '")
		exit = run.Code
		if run.Code == 0 {
			t.Errorf("gnutls-cli exit 0, want a failure")
		}
		checkFaultNote(t, rec, faultAt(sc, scenarios.AtConnect))
	case stageDropped:
		// Which of these depends on whether the ClientHello met the FIN
		// or the reset that follows it; all say the same.
		if !strings.Contains(out, "The TLS connection was non-properly terminated.") && !strings.Contains(out, "Error in the pull function.") &&
			!strings.Contains(out, "Error in the push function.") {
			t.Errorf("gnutls-cli did not report the closed connection")
		}
		checkFaultNote(t, rec, faultAt(sc, scenarios.AtTLSReady))
	default:
		name := ""
		if sni {
			name = s.MX
		}
		hs := negotiate(t, sc, gnutlsClient(name))
		if f := faultAt(sc, scenarios.AtTLSReady); f != nil {
			d, _ := tlsalert.ParseDescription(f.Alert)
			hs = handshake{serverAlert: d, sent: true}
		}
		switch {
		case hs.sent:
			gname, ok := gnutlsAlertNames[hs.serverAlert]
			if !ok {
				t.Fatalf("no GnuTLS name known for alert %d: add it to gnutlsAlertNames", hs.serverAlert)
			}
			expect(fmt.Sprintf("*** Received alert [%d]: %s", hs.serverAlert, gname), "*** Fatal error: A TLS fatal alert has been received.")
			alert = int(hs.serverAlert)
		case hs.received:
			t.Fatalf("gnutls-cli refusing the server's choice (%+v) has no expectation yet", hs)
		default:
			c := certificate(t, l, s)
			expect("subject `CN=" + c.names[0] + "'")
			status := gnutlsStatus(c, verifyName(s))
			if !verify || status == "- Status: The certificate is trusted." {
				expect(fmt.Sprintf("- Description: (TLS1.%d-X.509)", hs.version-tls10), "- Handshake was completed")
				exit, tls = 0, true
			}
			if verify {
				expect(status)
				if !tls {
					// gnutls-cli refuses the certificate with an
					// (encrypted) alert before its Finished.
					expect("*** PKI verification of server certificate failed...")
				}
			}
		}
		if sc.SMTP.OffersSTARTTLS() {
			checkSNI(t, rec, sni, s.MX)
		}
	}
	if run.Code != exit {
		t.Errorf("gnutls-cli exit %d, want %d", run.Code, exit)
	}
	if got := alertCode(rec); got != alert {
		t.Errorf("record alert_sent %d, want %d", got, alert)
	}
	if (rec.TLS != nil) != tls {
		t.Errorf("record tls %+v, want handshake completed = %v", rec.TLS, tls)
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

// TestRealPeersSwaks delivers to every scenario with swaks, in plaintext,
// with --tls, with --tls and the MX name as SNI, with --tls-optional where
// STARTTLS is not offered and with AUTH where it is, and checks its
// transcript against the scenario's knobs and dialect: banner, EHLO
// keywords before and after TLS, the replies to MAIL, RCPT and DATA, and
// the failures.
func TestRealPeersSwaks(t *testing.T) {
	swaks := realpeer.Need(t, realpeer.Swaks)
	l := startLab(t)
	for _, s := range l.Layout().Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			sc := s.Scenario()
			checkModelled(t, sc)
			type variant struct {
				name string
				args []string
				sni  bool // --tls-sni <MX>
				auth bool
			}
			vs := []variant{{name: "no-tls"}, {name: "tls", args: []string{"--tls"}}, {name: "tls-sni", args: []string{"--tls"}, sni: true}}
			if !sc.SMTP.OffersSTARTTLS() {
				vs = append(vs, variant{name: "tls-optional", args: []string{"--tls-optional"}})
			}
			if a := sc.SMTP.Auth; a != nil {
				vs = append(vs, variant{name: "tls-auth", auth: true,
					args: []string{"--tls", "--auth", strings.ToUpper(a.Mechanisms[0]), "--auth-user", "u", "--auth-password", "p"}})
			}
			for _, v := range vs {
				t.Run(v.name, func(t *testing.T) { testSwaks(t, l, s, swaks, v.args, v.sni, v.auth) })
			}
		})
	}
}

// testSwaks runs swaks once and checks it against the knobs.
func testSwaks(t *testing.T, l *lab.Lab, s *lab.Site, swaks string, extra []string, sni, auth bool) {
	d := dialect(t, s)
	sc := s.Scenario()
	_, port, _ := net.SplitHostPort(s.SMTP)
	args := append([]string{"--server", "127.0.0.1", "--port", port, "--timeout", "10",
		"--helo", "client.example", "--from", "sender@client.example", "--to", "postmaster@" + s.Domain}, extra...)
	if sni {
		args = append(args, "--tls-sni", s.MX)
	}
	tryTLS := slices.Contains(extra, "--tls") || slices.Contains(extra, "--tls-optional")
	mustTLS := slices.Contains(extra, "--tls")

	// What the knobs promise.
	var (
		texts    []string
		tls      bool // the session completes TLS
		delivers bool
		tlsVer   uint16
		helloIn  bool // the lab reads a ClientHello
		failed   bool // swaks gives up before MAIL
	)
	if tryTLS && sc.SMTP.OffersSTARTTLS() {
		switch sessionStage(sc) {
		case stageRefused:
			texts = append(texts, "<** "+startTLSRefusal(sc), "*** STARTTLS attempted but failed")
			failed = mustTLS
		case stageDropped:
			// swaks reads end of file or dies of SIGPIPE writing its
			// ClientHello, whichever comes first: it says nothing either
			// way; that the server said nothing more is checked below.
			failed = true
		case stageTLS:
			helloIn = true
			name := ""
			if sni {
				name = s.MX
			}
			hs := negotiate(t, sc, opensslClient("default", name)) // Net::SSLeay on OpenSSL 3
			switch {
			case hs.sent:
				texts = append(texts, "*** TLS startup failed", opensslAlert(hs.serverAlert), "*** STARTTLS attempted but failed")
				failed = true
			case hs.received:
				texts = append(texts, "*** TLS startup failed", hs.reason, "*** STARTTLS attempted but failed")
				failed = true
			default:
				tls, tlsVer = true, hs.version
			}
		}
	}
	if tryTLS && !sc.SMTP.OffersSTARTTLS() {
		texts = append(texts, "*** Host did not advertise STARTTLS")
		failed = mustTLS
	}
	// MAIL: refused before TLS where TLS is required, before AUTH where
	// AUTH is; else the transaction goes through.
	var refusal scenarios.Reply
	switch {
	case !greets(sc) || failed:
	case sc.SMTP.RequireTLS && !tls:
		refusal = scenarios.ReplyTLSRequired
	case sc.SMTP.Auth != nil && sc.SMTP.Auth.Required && !auth:
		refusal = scenarios.ReplyAuthRequired
	default:
		delivers = true
	}
	if !greets(sc) {
		texts = append(texts, "*** Remote host closed connection unexpectedly.")
	}

	since := mark(l)
	run := realpeer.Run(t, realpeer.Cmd{Path: swaks, Args: args, Timeout: peerTimeout})
	out := run.All()
	tr := parseSwaks(out)
	for _, text := range texts {
		if !strings.Contains(out, text) {
			t.Errorf("swaks did not print %q", text)
		}
	}
	rec := nextRecord(t, l, since, s.Name)
	if !greets(sc) {
		if len(tr) != 0 || run.Code == 0 {
			t.Errorf("swaks exit %d, dialogue %+v; want no banner and a failure", run.Code, tr)
		}
		if len(rec.Commands) != 0 || rec.EndReason != server.EndClosedByLab {
			t.Errorf("record commands %q end %s, want none and closed-by-lab", rec.Commands, rec.EndReason)
		}
		checkFaultNote(t, rec, faultAt(sc, scenarios.AtConnect))
		return
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
	if slices.Contains(kws, "STARTTLS") != sc.SMTP.OffersSTARTTLS() {
		t.Errorf("EHLO keywords %q: STARTTLS offered = %v, want %v", kws, !sc.SMTP.OffersSTARTTLS(), sc.SMTP.OffersSTARTTLS())
	}
	if d.Name == "exim" && len(sc.SMTP.EHLOKeywords) == 0 && sc.SMTP.Auth == nil { // measured: testdata/transcripts/exim-tls.txt
		exim := []string{"SIZE 52428800", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS", "PRDR", "HELP"}
		if sc.SMTP.OffersSTARTTLS() && !slices.Equal(kws, exim) {
			t.Errorf("EHLO keywords %q, want Exim 4.96's %q", kws, exim)
		}
	}
	if tryTLS && sessionStage(sc) == stageDropped {
		// The last thing the server said is its 220 to STARTTLS.
		last := tr[len(tr)-1]
		if !last.fromServer || !templateRE(d.Replies[scenarios.ReplyStartTLS], s.Host).MatchString(last.text) || strings.Contains(out, "=== TLS started") {
			t.Errorf("swaks' dialogue ends with %q, want the %s dialect's %q and nothing after", last.text, d.Name, d.Replies[scenarios.ReplyStartTLS])
		}
	}
	// EHLO after TLS.
	if tls {
		c := certificate(t, l, s)
		if !strings.Contains(out, "=== TLS started with cipher "+opensslVersion(tlsVer)+":") {
			t.Errorf("swaks did not start %s", opensslVersion(tlsVer))
		}
		if !strings.Contains(out, `=== TLS peer DN="/CN=`+c.names[0]+`"`) {
			t.Errorf("swaks did not see the certificate for %s", c.names[0])
		}
		kws := ehloKeywords(tr.reply("EHLO", true))
		if want := wantKeywords(d, sc, true); !slices.Equal(kws, want) {
			t.Errorf("EHLO keywords in TLS %q, want %q", kws, want)
		}
	}
	// The transaction, in the dialect's words.
	switch {
	case delivers:
		for _, step := range []struct {
			cmd string
			key scenarios.Reply
		}{{"MAIL FROM:", scenarios.ReplyMail}, {"RCPT TO:", scenarios.ReplyRcpt}, {"DATA", scenarios.ReplyData}, {".", scenarios.ReplyQueued}, {"QUIT", scenarios.ReplyQuit}} {
			r := tr.reply(step.cmd, tls)
			tmpl := d.Replies[step.key]
			if len(r) != 1 || !templateRE(tmpl, s.Host).MatchString(r[0]) {
				t.Errorf("reply to %s %q, want the %s dialect's %q", step.cmd, r, d.Name, tmpl)
			}
		}
		if run.Code != 0 {
			t.Errorf("swaks exit %d, want 0 (delivered)", run.Code)
		}
	case refusal != "":
		r := tr.reply("MAIL FROM:", tls)
		tmpl := d.Replies[refusal]
		if len(r) != 1 || !templateRE(tmpl, s.Host).MatchString(r[0]) {
			t.Errorf("reply to MAIL %q, want the %s dialect's %q", r, d.Name, tmpl)
		}
		// swaks marks a reply it takes as an error: <** in plaintext, <~* in TLS.
		marker := "<** "
		if tls {
			marker = "<~* "
		}
		if len(r) == 1 && !strings.Contains(out, marker+r[0]) {
			t.Errorf("swaks did not take %q as an error (%s)", r[0], marker)
		}
		fallthrough
	default:
		if run.Code == 0 {
			t.Errorf("swaks exit 0, want a failure")
		}
	}

	if (rec.TLS != nil) != tls {
		t.Errorf("record tls %+v, want TLS = %v", rec.TLS, tls)
	}
	if tls && rec.TLS.Version != recordVersion(tlsVer) {
		t.Errorf("record tls version %s, want %s", rec.TLS.Version, recordVersion(tlsVer))
	}
	if (rec.Message != nil) != delivers {
		t.Errorf("record message %+v, want delivered = %v", rec.Message, delivers)
	}
	if (rec.ClientHello != nil) != helloIn {
		t.Errorf("record client_hello %+v, want one = %v", rec.ClientHello, helloIn)
	}
	if rec.ClientHello != nil {
		checkSNI(t, rec, sni, s.MX)
	}
	if auth && delivers {
		if rec.Auth == nil || rec.Auth.Username != "u" || !rec.Auth.Success || rec.Auth.Mechanism != strings.ToUpper(sc.SMTP.Auth.Mechanisms[0]) {
			t.Errorf("record auth %+v, want %s user u, success", rec.Auth, sc.SMTP.Auth.Mechanisms[0])
		}
	}
	for _, p := range []scenarios.Point{scenarios.AtSTARTTLS, scenarios.AtTLSReady} {
		if f := faultAt(sc, p); f != nil && tryTLS && sc.SMTP.OffersSTARTTLS() {
			checkFaultNote(t, rec, f)
		}
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

	for _, s := range l.Layout().Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			sc := s.Scenario()
			checkModelled(t, sc)
			type variant struct{ level, match string } // match: "mx", "host" or "" for the level's default
			vs := []variant{{"may", ""}, {"secure", "mx"}}
			if s.Host != s.MX {
				vs = append(vs, variant{"secure", "host"})
			}
			if greets(sc) && !sc.SMTP.OffersSTARTTLS() {
				vs = vs[:1] // no TLS to probe; the plaintext chat at may shows why
			}
			for _, v := range vs {
				name := v.level
				if v.match != "" {
					name += "/match-" + v.match
				}
				t.Run(name, func(t *testing.T) { testPosttlsFinger(t, l, s, finger, env, v.level, v.match) })
			}
		})
	}
}

// postfixVerifyError is the line Postfix logs for the first error of a
// certificate that does not verify (src/tls/tls_verify.c,
// tls_log_verify_error; measured against the lab), "" when it verifies.
func postfixVerifyError(c certWant, host string) string {
	errs := c.opensslVerify(host)
	if len(errs) == 0 {
		return ""
	}
	num, text, _ := strings.Cut(errs[0], ":")
	switch num {
	case "18":
		return "certificate verification failed for {dest}: self-signed certificate"
	case "20":
		return "certificate verification failed for {dest}: untrusted issuer " + opensslDN(c.issuer, true)
	case "9", "10":
		return "server certificate verification failed for {dest}: " + text
	}
	return "server certificate verification failed for {dest}: num=" + errs[0]
}

// testPosttlsFinger runs posttls-finger once and checks it against the
// knobs. Postfix below dane sends no SNI; at may it offers anonymous
// suites and so runs OpenSSL at security level 0, which also lets it
// accept TLS 1.0 and 1.1 (measured: Trusted TLS connection … TLSv1.1 at
// may, "legacy sigalg disallowed" at secure).
func testPosttlsFinger(t *testing.T, l *lab.Lab, s *lab.Site, finger string, env []string, level, match string) {
	sc := s.Scenario()
	ca := l.Layout().CACert
	plain := greets(sc) && !sc.SMTP.OffersSTARTTLS()
	args := []string{"-t", "10", "-T", "10", "-l", level, "-F", ca}
	if !plain {
		args = append(args, "-c") // TLS lines only
	}
	args = append(args, "["+s.Addr().Addr().String()+"]:"+fmt.Sprint(s.Addr().Port()))
	host := ""
	switch match {
	case "mx":
		host = s.MX
	case "host":
		host = s.Host
	}
	if host != "" {
		args = append(args, host)
	}
	anonymous := level == "may"
	var (
		texts   []string
		tls     bool
		alert   int
		helloIn bool
	)
	switch st := sessionStage(sc); {
	case plain:
		// Without -c the chat shows the EHLO reply: no STARTTLS, so no TLS.
		d := dialect(t, s)
		kws := wantKeywords(d, sc, false)
		texts = []string{"< 250 " + kws[len(kws)-1], "> QUIT"}
	case st == stageNoGreeting:
		texts = []string{"lost connection while reading server greeting"}
	case st == stageRefused:
		texts = []string{"STARTTLS rejected: " + startTLSRefusal(sc)}
	case st == stageDropped:
		texts = []string{"SSL_connect error to {dest}"} // then "lost connection", or the reset's words
	default:
		helloIn = true
		c := opensslClient("default", "")
		c.legacySigalgs = anonymous
		hs := negotiate(t, sc, c)
		switch {
		case hs.sent:
			texts = []string{"SSL_connect error to {dest}: -1", opensslAlert(hs.serverAlert), fmt.Sprintf("SSL alert number %d", hs.serverAlert)}
			alert = int(hs.serverAlert)
		case hs.received:
			texts = []string{"SSL_connect error to {dest}: -1", "warning: TLS library problem: ", hs.reason}
		default:
			tls = true
			cert := certificate(t, l, s)
			v := opensslVersion(hs.version)
			switch {
			case host == "" && cert.trusted && !cert.expired && !cert.notYetValid:
				texts = []string{"Trusted TLS connection established to {dest}: " + v}
			case host == "":
				texts = []string{"Untrusted TLS connection established to {dest}: " + v}
			case postfixVerifyError(cert, host) == "":
				texts = []string{"matched peername: {name}", "Verified TLS connection established to {dest}: " + v}
			default:
				texts = []string{postfixVerifyError(cert, host), "Untrusted TLS connection established to {dest}: " + v}
			}
		}
	}

	since := mark(l)
	run := realpeer.Run(t, realpeer.Cmd{Path: finger, Args: args, Env: env, Timeout: peerTimeout})
	r := strings.NewReplacer("{dest}", "127.0.0.1[127.0.0.1]:"+fmt.Sprint(s.Addr().Port()), "{name}", host)
	for _, text := range texts {
		if !strings.Contains(run.All(), r.Replace(text)) {
			t.Errorf("posttls-finger did not print %q", r.Replace(text))
		}
	}
	if strings.Contains(run.All(), "TLS connection established") != tls {
		t.Errorf("posttls-finger: TLS connection established = %v, want %v", !tls, tls)
	}
	if plain && strings.Contains(run.All(), "STARTTLS") {
		t.Errorf("posttls-finger saw STARTTLS offered")
	}
	rec := nextRecord(t, l, since, s.Name)
	if plain {
		if rec.ClientHello != nil || rec.Counts != "ehlo=1 quit=1 commands=2" {
			t.Errorf("record client_hello %+v counts %q, want no TLS, ehlo=1 quit=1", rec.ClientHello, rec.Counts)
		}
		return
	}
	if !helloIn {
		if rec.ClientHello != nil || rec.TLS != nil {
			t.Errorf("record client_hello %+v tls %+v, want none", rec.ClientHello, rec.TLS)
		}
		return
	}
	// Postfix below dane sends no SNI.
	checkSNI(t, rec, false, s.MX)
	if (rec.TLS != nil) != tls || alertCode(rec) != alert {
		t.Errorf("record tls %+v alert %d, want TLS = %v, alert %d", rec.TLS, alertCode(rec), tls, alert)
	}
	if rec.ClientHello.AnonymousOffered != anonymous {
		t.Errorf("record anonymous_offered %v, want %v (posttls-finger offers aNULL suites at may)", rec.ClientHello.AnonymousOffered, anonymous)
	}
	// What a 2015 OpenSSL 1.0 server would have done with them.
	if sc.TLS.LegacyAnonymous && (rec.LegacyWould != nil) != anonymous {
		t.Errorf("record legacy_server_would %+v, want one exactly when anonymous suites were offered", rec.LegacyWould)
	}
	if tls && rec.EndReason != server.EndQuit && rec.EndReason != server.EndReset {
		// posttls-finger QUITs; a reset is possible with session
		// tickets (docs/interop-recipe.md §6b).
		t.Errorf("record end %s, want quit (or reset)", rec.EndReason)
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
		if !readsClientHello(s.Scenario()) {
			continue // no "220 Ready to start TLS" to send garbage after
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
			want := sClientExpect(t, l, s, "default", false)
			switch {
			case want.alert != "":
				if !strings.Contains(run.All(), want.texts[len(want.texts)-1]) || alertCode(next) == 0 {
					t.Errorf("next client: no %q", want.texts[len(want.texts)-1])
				}
			case want.hs.received:
				if !strings.Contains(run.All(), want.hs.reason) || next.AlertReceived == nil {
					t.Errorf("next client: no %q (record alert_received %+v)", want.hs.reason, next.AlertReceived)
				}
			case next.TLS == nil || next.TLS.Version != recordVersion(want.hs.version):
				t.Errorf("next client: handshake did not complete in %s (record tls %+v)", recordVersion(want.hs.version), next.TLS)
			}
		})
	}
}
