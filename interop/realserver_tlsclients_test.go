package interop

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/tlsalert"
)

// sniNote is the note of a client that sends the MX name as SNI against
// sni-reject: the lab's MX name, like the incident's, has a '_', which
// GnuTLS (the real Exim) and the lab refuse with alert 47.
const sniNote = "SNI = the MX name, which has '_': alert 47 expected from both"

// tlsClientSenders are three bare TLS clients, each sending the MX name
// as SNI and not verifying the certificate: openssl s_client, gnutls-cli
// and Go's crypto/tls. Only what happened to the handshake is compared:
// cipher names and certificate details differ between Go and the real
// stacks.
func tlsClientSenders(openssl, gnutls string) []clientSender {
	return []clientSender{
		{name: "openssl s_client -starttls smtp", sni: mxSNI, sendsMX: true, limit: 15 * time.Second, parse: parseOpenSSL, argv: func(tg clientTarget) []string {
			return []string{openssl, "s_client", "-starttls", "smtp", "-connect", tg.addr, "-servername", tg.mx, "-brief"}
		}},
		{name: "gnutls-cli --starttls-proto=smtp", sni: mxSNI, sendsMX: true, limit: 15 * time.Second, parse: parseGnuTLS, argv: func(tg clientTarget) []string {
			host, port, _ := strings.Cut(tg.addr, ":")
			return []string{gnutls, "--starttls-proto=smtp", "--port", port, host, "--sni-hostname", tg.mx, "--insecure"}
		}},
		{name: "Go crypto/tls (ns.Dial, smtpexpect)", sni: mxSNI, sendsMX: true, parse: parseGoClient, run: goClient},
	}
}

var (
	opensslVersionRE = regexp.MustCompile(`Protocol version: (TLSv[\d.]+)`)
	// opensslErrorRE is OpenSSL's error line without its thread id.
	opensslErrorRE    = regexp.MustCompile(`(?m)^[0-9A-F]+:(error:.*SSL alert number \d+)`)
	opensslAnyErrorRE = regexp.MustCompile(`(?m)^[0-9A-F]+:(error:.*)`)
	gnutlsAlertRE     = regexp.MustCompile(`\*\*\* Received alert \[(\d+)\]: .*`)
)

// parseOpenSSL: "handshake ok TLSv1.x", or "handshake failed" with the
// error line that has the alert number, or what else it said.
func parseOpenSSL(out string) (Side, clientSaw) {
	saw := clientSaw{alert: -1, hello: !strings.Contains(out, "Didn't find STARTTLS")}
	if m := alertNumberRE.FindStringSubmatch(out); m != nil {
		saw.alert = alertCode(m[1])
	}
	if m := opensslVersionRE.FindStringSubmatch(out); m != nil && strings.Contains(out, "CONNECTION ESTABLISHED") {
		saw.handshake = true
		return Side{Outcome: "handshake ok " + m[1]}, saw
	}
	s := Side{Outcome: "handshake failed"}
	switch m := opensslErrorRE.FindStringSubmatch(out); {
	case m != nil:
		s.Status = Normalize(m[1])
	case strings.Contains(out, ": no end within "):
		s.Outcome = "no end (killed at its time limit)"
	default:
		if m := opensslAnyErrorRE.FindStringSubmatch(out); m != nil {
			s.Status = Normalize(m[1])
		} else {
			s.Status = Normalize(firstLine(out))
		}
	}
	return s, saw
}

// parseGnuTLS: "Handshake was completed", or the "Received alert [N]"
// line, or its first fatal error line.
func parseGnuTLS(out string) (Side, clientSaw) {
	saw := clientSaw{alert: -1, hello: true}
	if strings.Contains(out, "- Handshake was completed") {
		saw.handshake = true
		return Side{Outcome: "Handshake was completed"}, saw
	}
	if m := gnutlsAlertRE.FindStringSubmatch(out); m != nil {
		saw.alert = alertCode(m[1])
		return Side{Outcome: "handshake failed", Status: Normalize(m[0])}, saw
	}
	s := Side{Outcome: "handshake failed"}
	for _, l := range strings.Split(out, "\n") {
		// The STARTTLS dialogue failed: gnutls-cli waits for "220 " to
		// STARTTLS until its timeout.
		if strings.HasPrefix(l, "error receiving") {
			s.Outcome, s.Status, saw.hello = "STARTTLS failed", Normalize(l), false
			break
		}
		if strings.HasPrefix(l, "*** ") {
			s.Status = Normalize(l)
			break
		}
	}
	return s, saw
}

// goClientArgv describes the Go client's run in the evidence.
func goClientArgv(tg clientTarget) []string {
	return []string{"(go: ns.Dial", tg.addr + ",", "EHLO, STARTTLS, tls.Client ServerName=" + tg.mx, "InsecureSkipVerify)"}
}

// cellTB turns smtpexpect's Fatalf into a panic the Go client recovers
// from: it runs outside the test's goroutine.
type cellTB struct{ testing.TB }

type cellAbort string

func (cellTB) Helper()                           {}
func (cellTB) Fatalf(format string, args ...any) { panic(cellAbort(fmt.Sprintf(format, args...))) }
func (cellTB) Fatal(args ...any)                 { panic(cellAbort(fmt.Sprint(args...))) }

// goClient is Go's crypto/tls as an SMTP client from inside the
// namespace: EHLO, STARTTLS, a handshake with the MX name as SNI and no
// verification, QUIT. Its transcript ends with a RESULT line.
func goClient(w *world, tg clientTarget) (out string, code int) {
	var b strings.Builder
	defer func() {
		if p := recover(); p != nil {
			a, ok := p.(cellAbort)
			if !ok {
				panic(p)
			}
			fmt.Fprintf(&b, "RESULT dialogue failed: %s\n", a)
			out, code = b.String(), 1
		}
	}()
	conn, err := (&netns.NS{Name: w.ns}).Dial(tg.addr, 10*time.Second)
	if err != nil {
		return fmt.Sprintf("RESULT dial failed: %v\n", err), 1
	}
	defer conn.Close()
	d := smtpexpect.New(cellTB{}, conn)
	reply := func() int {
		c, lines := d.Reply()
		for _, l := range lines {
			fmt.Fprintf(&b, "S: %s\n", l)
		}
		return c
	}
	send := func(l string) {
		fmt.Fprintf(&b, "C: %s\n", l)
		d.Send(l)
	}
	reply()
	send("EHLO client.lab.test")
	reply()
	send("STARTTLS")
	if c := reply(); c != 220 {
		fmt.Fprintf(&b, "RESULT no STARTTLS: %d\n", c)
		send("QUIT")
		return b.String(), 0
	}
	if err := d.StartTLS(&tls.Config{ServerName: tg.mx, InsecureSkipVerify: true}); err != nil {
		fmt.Fprintf(&b, "RESULT handshake failed: %v\n", err)
		return b.String(), 0
	}
	fmt.Fprintf(&b, "RESULT completed %s\n", tls.VersionName(d.Conn.(*tls.Conn).ConnectionState().Version))
	send("QUIT")
	reply()
	return b.String(), 0
}

// parseGoClient: its RESULT line, the outcome before the first colon.
func parseGoClient(out string) (Side, clientSaw) {
	saw := clientSaw{alert: -1}
	res := "no RESULT"
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "RESULT "); ok {
			res = r
		}
	}
	outcome, status, _ := strings.Cut(res, ": ")
	switch {
	case strings.HasPrefix(outcome, "completed"):
		saw.hello, saw.handshake = true, true
	case outcome == "handshake failed":
		saw.hello = true
		if a, ok := tlsalert.FromGoError(errors.New(status)); ok {
			// Go's words for the alert ("protocol version not
			// supported"), not the RFC's name.
			saw.alert = int(a.Description)
		}
	}
	return Side{Outcome: outcome, Status: Normalize(status)}, saw
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
