package server

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/smtpexpect"
)

// BenchmarkSessionPlain is one whole plaintext delivery through the wire
// layer and go-smtp.
func BenchmarkSessionPlain(b *testing.B) {
	ts := startScenario(b, "baseline", nil)
	for b.Loop() {
		d := ts.greeted(b)
		d.Cmd("MAIL FROM:<a@client.example>", 250)
		d.Cmd("RCPT TO:<b@baseline.mxlab.test>", 250)
		d.Cmd("DATA", 354)
		d.Cmd("Subject: x\r\n\r\nbody\r\n.", 250)
		d.Cmd("QUIT", 221)
		d.Conn.Close()
	}
}

// BenchmarkSessionPlain10K is the session Postfix's smtp-source sends
// with -l 10240 (issue 14's plaintext figure): HELO, one message of 10
// KiB in 80-byte lines, QUIT. Its body used to cross the pipe to go-smtp
// line by line, with a deadline each.
func BenchmarkSessionPlain10K(b *testing.B) {
	ts := startScenario(b, "baseline", nil)
	body := "Subject: x\r\n\r\n" + strings.Repeat(strings.Repeat("La ", 26)+"\r\n", 128) + "."
	for b.Loop() {
		d := smtpexpect.Dial(b, ts.addr)
		d.Expect(220)
		d.Cmd("HELO client.example", 250)
		d.Cmd("MAIL FROM:<a@client.example>", 250)
		d.Cmd("RCPT TO:<b@baseline.mxlab.test>", 250)
		d.Cmd("DATA", 354)
		d.Cmd(body, 250)
		d.Cmd("QUIT", 221)
		d.Conn.Close()
	}
}

// BenchmarkSTARTTLSLab and BenchmarkHandshakeBareTLS measure the same
// TLS 1.3 handshake through the wire layer (STARTTLS, ClientHello peek,
// replay) and on a bare crypto/tls listener: their ratio is the wire
// layer's cost.
func BenchmarkSTARTTLSLab(b *testing.B) {
	ts := startScenario(b, "baseline", nil)
	cfg := clientTLS(ts, ts.mx)
	for b.Loop() {
		d := ts.greeted(b)
		d.Cmd("STARTTLS", 220)
		if err := d.StartTLS(cfg); err != nil {
			b.Fatal(err)
		}
		d.Conn.Close()
	}
}

func BenchmarkHandshakeBareTLS(b *testing.B) {
	ts := startScenario(b, "baseline", nil)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ts.tls)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cfg := clientTLS(ts, ts.mx)
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkAlert is the sni-reject path: STARTTLS, ClientHello, alert.
func BenchmarkAlert(b *testing.B) {
	ts := startScenario(b, "sni-reject", nil)
	hello := readHello(b, "openssl-default")
	buf := make([]byte, 16)
	for b.Loop() {
		d := ts.greeted(b)
		d.Cmd("STARTTLS", 220)
		d.Conn.Write(hello)
		d.Conn.(*net.TCPConn).Read(buf)
		d.Conn.Close()
	}
}

// BenchmarkPipelinedRSET is go-smtp's round trip alone: RSET, which the
// wire layer hands to go-smtp, in pipelined groups of 100 on one session,
// so that the client's reads and writes are spread over 100 commands.
// It measured the net.Pipe between the wire layer and go-smtp against
// the coroutine bridge that replaced it (bridge.go).
func BenchmarkPipelinedRSET(b *testing.B) {
	ts := startScenario(b, "baseline", nil)
	d := ts.greeted(b)
	d.Cmd("EHLO client.example", 250)
	d.Cmd("RSET", 250) // go-smtp's side starts here
	group := []byte(strings.Repeat("RSET\r\n", 100))
	n := 0
	for b.Loop() {
		if n%100 == 0 {
			if _, err := d.Conn.Write(group); err != nil {
				b.Fatal(err)
			}
		}
		d.Expect(250)
		n++
	}
	for ; n%100 != 0; n++ {
		d.Expect(250)
	}
}
