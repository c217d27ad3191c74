package lab_test

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/lab"
)

// captureDir holds ClientHellos captured from real clients (full TLS
// records, 5-byte header included, one hex line each), all sent with the
// SNI _dc-mx.7c74f8d3197f.example.test (docs/real-peers.md §6).
const captureDir = "../server/testdata/clienthello"

// captured reads a captured ClientHello record.
func captured(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(captureDir, name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s.hex: %v", name, err)
	}
	return rec
}

// hostName is a server_name extension (RFC 6066 §3) with one host_name
// entry; an empty name makes the malformed extension GnuTLS answers with
// decode_error.
func hostName(name string) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(0) // host_name
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
	})
	return b.BytesOrPanic()
}

// withServerName returns a ClientHello record (one record holding the
// whole message) whose server_name extension data is ext (nil: no
// server_name at all), every length recomputed and every other byte kept
// (RFC 8446 §4.1.2, §5.1).
func withServerName(t *testing.T, record, ext []byte) []byte {
	t.Helper()
	s := cryptobyte.String(record)
	var (
		typ, hsType                 uint8
		recVersion, legacy          uint16
		frag, body                  cryptobyte.String
		random                      []byte
		session, suites, comp, exts cryptobyte.String
	)
	if !s.ReadUint8(&typ) || typ != 22 || !s.ReadUint16(&recVersion) || !s.ReadUint16LengthPrefixed(&frag) || !s.Empty() ||
		!frag.ReadUint8(&hsType) || hsType != 1 || !frag.ReadUint24LengthPrefixed(&body) || !frag.Empty() ||
		!body.ReadUint16(&legacy) || !body.ReadBytes(&random, 32) || !body.ReadUint8LengthPrefixed(&session) ||
		!body.ReadUint16LengthPrefixed(&suites) || !body.ReadUint8LengthPrefixed(&comp) ||
		!body.ReadUint16LengthPrefixed(&exts) || !body.Empty() {
		t.Fatalf("not a one-record ClientHello: % x", record[:min(len(record), 16)])
	}
	found := false
	var b cryptobyte.Builder
	b.AddUint8(22)
	b.AddUint16(recVersion)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(1)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(legacy)
			b.AddBytes(random)
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(session) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(suites) })
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(comp) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for !exts.Empty() {
					var et uint16
					var data cryptobyte.String
					if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&data) {
						t.Fatal("malformed extensions")
					}
					if et == 0 {
						found = true
						if ext == nil {
							continue
						}
						data = ext
					}
					b.AddUint16(et)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(data) })
				}
			})
		})
	})
	if !found {
		t.Fatal("the ClientHello has no server_name extension to rewrite")
	}
	return b.BytesOrPanic()
}

// goClientHello is the ClientHello record Go's crypto/tls client sends
// with this ServerName, taken off a net.Pipe.
func goClientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go func() {
		_ = tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// exchangeTimeout bounds how long a peer may take to answer a ClientHello
// and close.
const exchangeTimeout = 5 * time.Second

// exchange writes hello and reads everything the peer writes until it
// closes. end is io.EOF for a FIN, syscall.ECONNRESET for a reset, a
// timeout when the peer neither answers nor closes.
func exchange(c net.Conn, hello []byte) (got []byte, end error) {
	c.SetDeadline(time.Now().Add(exchangeTimeout))
	if _, err := c.Write(hello); err != nil {
		return nil, err
	}
	return readToEnd(c)
}

func readToEnd(c net.Conn) (got []byte, end error) {
	c.SetReadDeadline(time.Now().Add(exchangeTimeout))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// endName says how a connection ended, in the words of the tests.
func endName(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "FIN"
	case errors.Is(err, syscall.ECONNRESET):
		return "RST"
	case errors.As(err, &ne) && ne.Timeout():
		return "no close (timeout)"
	}
	return err.Error()
}

// starttls opens an SMTP session to a site and takes it to the point
// where the next bytes are the ClientHello: banner, EHLO, STARTTLS, 220.
func starttls(t *testing.T, s *lab.Site) *smtpexpect.Dialogue {
	t.Helper()
	d := smtpexpect.Dial(t, s.SMTP)
	d.Expect(220)
	d.Cmd("EHLO client.example", 250)
	d.Cmd("STARTTLS", 220)
	return d
}

func hexBytes(b []byte) string { return fmt.Sprintf("% x", b) }
