// Package smtpexpect is the one expect-style SMTP dialogue helper for
// tests: send a line, expect a reply code, get the reply's lines.
package smtpexpect

import (
	"bufio"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Dialogue is an SMTP client conversation under test.
type Dialogue struct {
	t    testing.TB
	Conn net.Conn
	r    *bufio.Reader
}

// Timeout bounds every read and write of a dialogue.
const Timeout = 10 * time.Second

// Dial connects to addr and returns the dialogue, closed at cleanup.
func Dial(t testing.TB, addr string) *Dialogue {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return New(t, c)
}

// New wraps an open connection.
func New(t testing.TB, c net.Conn) *Dialogue {
	return &Dialogue{t: t, Conn: c, r: bufio.NewReader(c)}
}

// Send writes one line (CRLF added).
func (d *Dialogue) Send(line string) {
	d.t.Helper()
	d.Conn.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := d.Conn.Write([]byte(line + "\r\n")); err != nil {
		d.t.Fatalf("send %q: %v", line, err)
	}
}

// Reply reads one (multi-line) reply and returns its code and lines.
func (d *Dialogue) Reply() (int, []string) {
	d.t.Helper()
	var lines []string
	for {
		d.Conn.SetReadDeadline(time.Now().Add(Timeout))
		l, err := d.r.ReadString('\n')
		if err != nil {
			d.t.Fatalf("reading reply (so far %q): %v", lines, err)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] == ' ' {
			code, _ := strconv.Atoi(l[:min(3, len(l))])
			return code, lines
		}
	}
}

// Expect reads a reply and fails the test unless it has the code.
func (d *Dialogue) Expect(code int) []string {
	d.t.Helper()
	got, lines := d.Reply()
	if got != code {
		d.t.Fatalf("reply %q, want code %d", lines, code)
	}
	return lines
}

// Cmd sends a line and expects a reply code.
func (d *Dialogue) Cmd(line string, code int) []string {
	d.t.Helper()
	d.Send(line)
	return d.Expect(code)
}

// StartTLS runs a TLS client handshake over the dialogue's connection
// (after the 220 to STARTTLS) and continues the dialogue over TLS.
func (d *Dialogue) StartTLS(cfg *tls.Config) error {
	tc := tls.Client(d.Conn, cfg)
	tc.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	d.Conn = tc
	d.r = bufio.NewReader(tc)
	return nil
}

// Keywords returns the EHLO keywords of an EHLO reply's lines.
func Keywords(lines []string) []string {
	var kws []string
	for _, l := range lines[1:] {
		if len(l) > 4 {
			kws = append(kws, l[4:])
		}
	}
	return kws
}
