package sender

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/mxlab/mxlab/anontls"
	"github.com/mxlab/mxlab/tlsalert"
)

// probeResult is what a server did with a ClientHello offering only the
// anonymous suites a profile's real stack offers.
type probeResult struct {
	// Suite is the suite the server picked, 0 if none.
	Suite uint16
	// Alert is the alert it sent instead, if any.
	Alert *tlsalert.Alert
	Err   error
}

// anonymousHello builds a TLS 1.2 ClientHello record offering suites (and
// the extensions ECDH_anon needs), with SNI when sni is not empty.
func anonymousHello(suites []uint16, sni string) ([]byte, error) {
	var random [32]byte
	if _, err := rand.Read(random[:]); err != nil {
		return nil, err
	}
	var body cryptobyte.Builder
	body.AddUint16(0x0303)
	body.AddBytes(random[:])
	body.AddUint8(0) // no session id
	body.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range suites {
			b.AddUint16(s)
		}
		b.AddUint16(0x00ff) // TLS_EMPTY_RENEGOTIATION_INFO_SCSV, as OpenSSL sends
	})
	body.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	body.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		if sni != "" {
			ext(b, 0, func(b *cryptobyte.Builder) {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8(0)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(sni)) })
				})
			})
		}
		ext(b, 11, func(b *cryptobyte.Builder) { // ec_point_formats: uncompressed
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		})
		ext(b, 10, func(b *cryptobyte.Builder) { // supported_groups
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, g := range []uint16{0x001d, 0x0017, 0x0018, 0x0100, 0x0101} { // x25519, P-256, P-384, ffdhe2048, ffdhe3072
					b.AddUint16(g)
				}
			})
		})
		ext(b, 13, func(b *cryptobyte.Builder) { // signature_algorithms
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, s := range []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501} {
					b.AddUint16(s)
				}
			})
		})
	})
	msg, err := body.Bytes()
	if err != nil {
		return nil, err
	}
	var rec cryptobyte.Builder
	rec.AddUint8(22)
	rec.AddUint16(0x0301)
	rec.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(1) // ClientHello
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(msg) })
	})
	return rec.Bytes()
}

func ext(b *cryptobyte.Builder, typ uint16, f func(*cryptobyte.Builder)) {
	b.AddUint16(typ)
	b.AddUint16LengthPrefixed(f)
}

// readServerHello reads the server's first record: a ServerHello (its
// suite) or an alert.
func readServerHello(conn net.Conn, timeout time.Duration) probeResult {
	conn.SetReadDeadline(time.Now().Add(timeout))
	var hdr [5]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return probeResult{Err: err}
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return probeResult{Err: err}
	}
	switch hdr[0] {
	case 21:
		if len(body) == 2 {
			return probeResult{Alert: &tlsalert.Alert{Level: tlsalert.Level(body[0]), Description: tlsalert.Description(body[1])}}
		}
	case 22:
		s := cryptobyte.String(body)
		var typ uint8
		var msg cryptobyte.String
		var version, suite uint16
		var random, sid cryptobyte.String
		if s.ReadUint8(&typ) && typ == 2 && s.ReadUint24LengthPrefixed(&msg) &&
			msg.ReadUint16(&version) && msg.ReadBytes((*[]byte)(&random), 32) &&
			msg.ReadUint8LengthPrefixed(&sid) && msg.ReadUint16(&suite) {
			return probeResult{Suite: suite}
		}
	}
	return probeResult{Err: fmt.Errorf("unexpected record % x", hdr[:])}
}

// parseSuites turns a profile's hex suite ids into numbers.
func parseSuites(ids []string) ([]uint16, error) {
	var out []uint16
	for _, id := range ids {
		b, err := hex.DecodeString(id)
		if err != nil || len(b) != 2 {
			return nil, errors.New("bad suite id " + id)
		}
		out = append(out, uint16(b[0])<<8|uint16(b[1]))
	}
	return out, nil
}

// ProbeHELOPrefix starts the EHLO name of the sender's probing
// connection.
const ProbeHELOPrefix = "mxlab-probe."

// probeAnonymous is the probing connection that comes first: it offers
// only the anonymous suites the profile's real stack offers and records
// which one the server picks, if any. It is a session of its own.
func (a *attempt) probeAnonymous(ctx context.Context) {
	suites, err := parseSuites(a.p.TLS.AnonymousSuites)
	if err != nil {
		return
	}
	step := Step{"step": "probe", "offered": a.p.TLS.AnonymousSuites}
	defer func() { a.step(step) }()
	target := net.JoinHostPort(a.ip, strconv.Itoa(a.port))
	d := net.Dialer{Timeout: a.opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		step["result"] = "connect failed: " + err.Error()
		return
	}
	defer conn.Close()
	var lines []string
	c := newClient(conn, a.opts.Timeout, &lines)
	defer func() {
		for _, l := range lines {
			a.rep.Transcript = append(a.rep.Transcript, "probe "+l)
		}
	}()
	if code, _, err := c.reply(); err != nil || code != 220 {
		step["result"] = "no banner"
		return
	}
	// The probe says who it is, so that the lab's log and records (and a
	// real server's) tell it from the delivery (issue 15).
	code, ehlo, err := c.cmd("EHLO " + ProbeHELOPrefix + a.opts.HELO)
	if err != nil || code != 250 || !hasKeyword(keywords(ehlo), "STARTTLS") {
		step["result"] = "STARTTLS not offered"
		c.cmd("QUIT")
		return
	}
	if code, _, err := c.cmd("STARTTLS"); err != nil || code != 220 {
		step["result"] = "STARTTLS refused"
		return
	}
	hello, err := anonymousHello(suites, a.sni())
	if err != nil {
		step["result"] = err.Error()
		return
	}
	conn.SetWriteDeadline(time.Now().Add(a.opts.Timeout))
	if _, err := conn.Write(hello); err != nil {
		step["result"] = err.Error()
		return
	}
	lines = append(lines, "C: (ClientHello offering only anonymous suites)")
	r := readServerHello(conn, a.opts.Timeout)
	switch {
	case r.Suite != 0 && anontls.Is(r.Suite):
		name := anontls.Name(r.Suite)
		step["result"] = "server picked " + name
		a.rep.Inferred = append(a.rep.Inferred, Inference{
			Step: "handshake",
			What: "negotiates " + name,
			Why:  "a probing connection offered only the anonymous suites " + a.p.Software + " offers, and the server picked one; Go's crypto/tls cannot complete such a handshake",
		})
	case r.Suite != 0:
		step["result"] = "server picked a non-anonymous suite " + anontls.Name(r.Suite)
	case r.Alert != nil:
		step["result"] = "server sent " + r.Alert.String()
	default:
		step["result"] = fmt.Sprintf("no answer: %v", r.Err)
	}
}

// encodePlain is an AUTH PLAIN initial response (RFC 4616).
func encodePlain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}
