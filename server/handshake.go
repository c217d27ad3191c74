package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/mxlab/mxlab/anontls"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
	"github.com/mxlab/mxlab/tlsname"
)

// startTLS answers STARTTLS (RFC 3207) in the wire layer: the reply, the
// ClientHello, the scenario's rules, then either the alert or the real
// handshake. go-smtp never sees the command.
func (c *conn) startTLS() (EndReason, bool) {
	sc := c.srv.cfg.Scenario
	switch {
	case c.tls != nil:
		c.count("STARTTLS", false)
		c.replyKey(scenarios.ReplyTLSActive, "", vars{})
		return "", false
	case !sc.SMTP.OffersSTARTTLS():
		c.count("STARTTLS", false)
		c.replyKey(scenarios.ReplyStartTLSNotOffered, "", vars{})
		return "", false
	}
	if end, done, ok := c.fault(scenarios.AtSTARTTLS); ok {
		// The fault answered STARTTLS instead of "220 Ready".
		c.count("STARTTLS", false)
		return end, done
	}
	c.replyKey(scenarios.ReplyStartTLS, "", vars{})
	if err := c.flush(); err != nil {
		c.count("STARTTLS", false)
		return c.endFromError(err), true
	}
	// RFC 3207 §4.2 / CVE-2011-0411: plaintext pipelined after STARTTLS
	// must not be taken as if it came over TLS. Postfix discards it.
	if n := c.discardInput(); n > 0 {
		c.note("discarded %d bytes sent after STARTTLS before the handshake", n)
	}
	if end, done, ok := c.fault(scenarios.AtTLSReady); ok && done {
		c.count("STARTTLS", false)
		return end, true
	}
	end, ok := c.handshake()
	c.count("STARTTLS", ok)
	if !ok {
		return end, true
	}
	c.stopBackend()
	c.resetTransaction()
	if end, done, _ := c.fault(scenarios.AtHandshake); done {
		return end, true
	}
	return "", false
}

// handshake reads the ClientHello and finishes the TLS setup; ok is false
// when the session is over.
func (c *conn) handshake() (EndReason, bool) {
	deadline := time.Now().Add(c.srv.cfg.Timeouts.Handshake)
	c.raw.SetDeadline(deadline)
	raw, body, err := readClientHello(c.raw)
	c.sawTLS(FromClient, raw)
	if err != nil && len(raw) == 0 {
		// The client gave up after "220 Ready to start TLS".
		return c.endFromError(err), false
	}
	if err != nil && !errors.Is(err, ErrNotHandshake) {
		c.rec.TLSError = "reading ClientHello: " + err.Error()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return EndTimeout, false
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return EndClosedByClient, false
		}
		if isReset(err) {
			// The client reset the connection in the middle of its
			// ClientHello (issue 14: recorded as closed-by-lab).
			return EndReset, false
		}
		return EndClosedByLab, false
	}
	if err == nil {
		hello, perr := parseClientHello(body)
		if perr != nil {
			c.rec.TLSError = "parsing ClientHello: " + perr.Error()
		} else {
			c.rec.ClientHello = hello
			c.legacyVerdict(hello)
			if rule, ok := c.noCommonVersion(hello); ok {
				c.sendAlert(rule, hello.AlertVersion())
				return EndClosedByLab, false
			}
			if rule, ok := match(c.srv.rules, hello); ok {
				if rule.do != scenarios.DoAlert {
					end, _ := c.applyFault(&scenarios.Fault{At: scenarios.AtClientHello, Do: rule.do, Log: rule.log})
					return end, false
				}
				c.sendAlert(rule, hello.AlertVersion())
				return EndClosedByLab, false
			}
		}
	} else {
		c.rec.TLSError = err.Error()
		if rule, ok := match(c.srv.rules, nil); ok {
			// GnuTLS answers a non-TLS record with unexpected_message,
			// reads what came with it, and closes with a FIN (measured on
			// Exim 4.96 and gnutls-serv 3.7.9).
			c.sendAlert(rule, 0x0303)
			c.drain(briefly)
			return EndClosedByLab, false
		}
	}
	if c.srv.tls == nil {
		// No certificate and no rule matched (the ClientHello did not
		// even parse): nothing can complete. Close with the rest unread,
		// as OpenSSL-based servers do (the kernel then sends RST).
		return EndClosedByLab, false
	}
	// Replay what we read to a real TLS stack; whatever it decides
	// (including its own alerts) goes on the wire.
	rc := &replayConn{Conn: c.raw, pending: raw, seen: c.sawTLS}
	tc := tls.Server(rc, c.srv.tls)
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	if err := handshakeAside(ctx, tc); err != nil {
		return c.handshakeFailed(err, rc), false
	}
	c.raw.SetDeadline(time.Time{})
	c.trace = tlsTrace{stopped: true} // the records that follow are the SMTP dialogue's
	st := tc.ConnectionState()
	c.tls = tc
	c.client = tc
	c.releaseWriter() // the 220 went out before the handshake
	c.rec.TLS = &TLSState{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite), SNI: st.ServerName}
	if st.CurveID != 0 {
		c.rec.TLS.Group = tlsname.Group(uint16(st.CurveID))
	}
	c.step(Step{From: FromServer, Kind: StepTLSEstablished, Text: c.rec.TLS.Version + " " + c.rec.TLS.Cipher, SNI: st.ServerName})
	return "", true
}

// noCommonVersion is the protocol_version alert an OpenSSL server sends
// when the client offers none of the scenario's versions (tls10-only
// against a TLS 1.3-only ClientHello). crypto/tls would send it too, but
// with 03 01 as the record version where OpenSSL writes 03 03 for a TLS
// 1.3 client (measured: lab/realpeers_certref_test.go against openssl
// s_server -max_protocol TLSv1.1; RFC 8446 §5.1). Only a scenario that
// sets its versions is checked: Go's defaults are nobody's dialect.
func (c *conn) noCommonVersion(hello *ClientHello) (rejection, bool) {
	sc := c.srv.cfg.Scenario
	if c.srv.tls == nil || sc.TLS.MinVersion == "" && sc.TLS.MaxVersion == "" {
		return rejection{}, false
	}
	lo, hi := c.srv.tls.MinVersion, c.srv.tls.MaxVersion
	if lo == 0 {
		lo = tls.VersionTLS12
	}
	if hi == 0 {
		hi = tls.VersionTLS13
	}
	for v := lo; v <= hi; v++ {
		if hello.Offers(v) {
			return rejection{}, false
		}
	}
	return rejection{alert: tlsalert.Alert{Level: tlsalert.Fatal, Description: tlsalert.ProtocolVersion},
		log: "SSL_accept error: unsupported protocol", do: scenarios.DoAlert}, true
}

// sendAlert puts a rule's alert on the wire exactly as the imitated server
// does (one alert record, then FIN), records it, and logs what that server
// logs. Wire and words at the same spot.
func (c *conn) sendAlert(rule rejection, version uint16) {
	rec := rule.alert.Record(version)
	c.raw.SetWriteDeadline(time.Now().Add(c.srv.cfg.Timeouts.Handshake))
	n, err := c.raw.Write(rec)
	c.sawTLS(FromServer, rec[:n])
	if err != nil {
		c.note("writing alert: %v", err)
	}
	c.rec.AlertSent = rule.alert.JSON()
	c.rec.TLSError = rule.log
	var sni string
	if c.rec.ClientHello != nil {
		sni, _ = c.rec.ClientHello.ServerName()
	}
	c.srv.cfg.Logger.Info(c.rec.Scenario+" "+c.rec.ID+": TLS handshake refused: "+rule.log,
		"remote", c.rec.Remote, "sni", sni, "alert", rule.alert.String())
}

// drain reads what the client sends, up to 64 KiB and for at most d,
// so that closing sends a FIN rather than a reset for unread data.
func (c *conn) drain(d time.Duration) {
	c.raw.SetReadDeadline(time.Now().Add(d))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.raw, 1<<16))
}

// briefly is how long a drain after an alert waits for what the client
// already sent.
const briefly = 100 * time.Millisecond

// legacyVerdict records what an OpenSSL-1.0-era server would have done
// with a client that offers anonymous suites, where Go cannot.
func (c *conn) legacyVerdict(hello *ClientHello) {
	if !c.srv.cfg.Scenario.TLS.LegacyAnonymous {
		return
	}
	id, ok := hello.FirstAnonymousSuite()
	if !ok {
		return
	}
	c.rec.LegacyWould = &LegacyVerdict{
		Action: "negotiate",
		Cipher: anontls.Name(id),
		Why:    "an OpenSSL 1.0 build with no certificate negotiates the first anonymous suite the client offers; Go's crypto/tls cannot",
	}
}

// handshakeFailed records why crypto/tls gave up and how the session ends.
func (c *conn) handshakeFailed(err error, rc *replayConn) EndReason {
	c.rec.TLSError = err.Error()
	if rc.sent != nil {
		c.rec.AlertSent = rc.sent.JSON()
	}
	if rc.received != nil {
		c.rec.AlertReceived = rc.received.JSON()
		// Say what the client said, not what crypto/tls made of it (a
		// plaintext TLS 1.3 alert reads to it as "bad record MAC").
		c.rec.TLSError = "client sent " + rc.received.String()
	} else if a, ok := remoteAlert(err); ok {
		// An encrypted alert (a TLS 1.3 client refusing the certificate
		// after the server's Finished): crypto/tls decrypted it.
		c.rec.AlertReceived = a.JSON()
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return EndTimeout
	case rc.received != nil, strings.Contains(err.Error(), "remote error"), errors.Is(err, io.EOF):
		// The client refused (often our certificate) and hung up.
		return EndClosedByClient
	case isReset(err):
		return EndReset
	}
	// crypto/tls refused what the client sent: the lab hangs up.
	return EndClosedByLab
}

// isReset says whether the client reset the connection: ECONNRESET on a
// read, EPIPE on a write that found the reset.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// remoteAlert is the alert a client sent, as crypto/tls reports it:
// a *net.OpError "remote error" whose Err is its unexported alert type, a
// uint8 (https://go.dev/src/crypto/tls/conn.go, readRecordOrCCS:
// alert(data[1])). Read by
// reflection, since crypto/tls exports no type for it outside QUIC; every
// alert it reports this way is fatal (RFC 8446 §6: in TLS 1.3 all error
// alerts are).
func remoteAlert(err error) (tlsalert.Alert, bool) {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" || oe.Err == nil {
		return tlsalert.Alert{}, false
	}
	v := reflect.ValueOf(oe.Err)
	if t := v.Type(); t.PkgPath() != "crypto/tls" || t.Name() != "alert" || v.Kind() != reflect.Uint8 {
		return tlsalert.Alert{}, false
	}
	return tlsalert.Alert{Level: tlsalert.Fatal, Description: tlsalert.Description(v.Uint())}, true
}

// replayConn gives crypto/tls the bytes the wire layer already read, then
// the live connection. It notes the plaintext alerts each side sends, and
// once the client has sent a fatal alert it lets nothing more out: OpenSSL
// sends a TLS 1.3 client's certificate alert in plaintext, which
// crypto/tls cannot read ("bad record MAC") and would answer, where the
// real server reads it and just closes (measured on Postfix and s_server).
type replayConn struct {
	net.Conn
	pending  []byte
	sent     *tlsalert.Alert
	received *tlsalert.Alert
	in       tlsalert.Scanner
	// seen is told of every byte read from or written to the wire (not
	// the replayed ones, which it saw when they were read).
	seen func(Side, []byte)
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		if len(r.pending) == 0 {
			r.pending = nil // the session keeps the connection, not the ClientHello
		}
		return n, nil
	}
	n, err := r.Conn.Read(p)
	if a := r.in.Feed(p[:n]); a != nil && r.received == nil {
		r.received = a
	}
	r.seen(FromClient, p[:n])
	return n, err
}

func (r *replayConn) Write(p []byte) (int, error) {
	if r.received != nil && r.received.Level == tlsalert.Fatal {
		return len(p), nil
	}
	// A plaintext alert record (before encryption starts) is 7 bytes.
	if len(p) == 7 && p[0] == 21 && r.sent == nil {
		r.sent = &tlsalert.Alert{Level: tlsalert.Level(p[5]), Description: tlsalert.Description(p[6])}
	}
	n, err := r.Conn.Write(p)
	r.seen(FromServer, p[:n])
	return n, err
}

// handshakeAside runs the handshake on a goroutine of its own: the
// signature and key exchange grow a stack to tens of KiB, and the
// session's goroutine would keep that stack while the session idles; a
// goroutine that ends gives it back (issue 14: memory per idle TLS
// connection).
func handshakeAside(ctx context.Context, tc *tls.Conn) error {
	done := make(chan error, 1)
	go func() { done <- tc.HandshakeContext(ctx) }()
	return <-done
}
