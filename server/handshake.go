package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// startTLS answers STARTTLS (RFC 3207) in the wire layer: the reply, the
// ClientHello, the scenario's rules, then either the alert or the real
// handshake. go-smtp never sees the command.
func (c *conn) startTLS() (EndReason, bool) {
	sc := c.srv.cfg.Scenario
	switch {
	case c.tls != nil:
		c.counts.add("STARTTLS", false)
		c.replyKey(scenarios.ReplyTLSActive, "", vars{})
		return "", false
	case !sc.SMTP.OffersSTARTTLS():
		c.counts.add("STARTTLS", false)
		c.replyKey(scenarios.ReplyStartTLSNotOffered, "", vars{})
		return "", false
	}
	c.replyKey(scenarios.ReplyStartTLS, "", vars{})
	if err := c.flush(); err != nil {
		c.counts.add("STARTTLS", false)
		return c.endFromError(err), true
	}
	// RFC 3207 §4.2 / CVE-2011-0411: plaintext pipelined after STARTTLS
	// must not be taken as if it came over TLS. Postfix discards it.
	if n := c.br.Buffered(); n > 0 {
		c.note("discarded %d bytes sent after STARTTLS before the handshake", n)
		_, _ = c.br.Discard(n)
	}
	end, ok := c.handshake()
	c.counts.add("STARTTLS", ok)
	if !ok {
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
		return EndClosedByLab, false
	}
	if err == nil {
		hello, perr := parseClientHello(body)
		if perr != nil {
			c.rec.TLSError = "parsing ClientHello: " + perr.Error()
		} else {
			c.rec.ClientHello = hello
			c.legacyVerdict(hello)
			if rule, ok := match(c.srv.rules, hello); ok {
				c.sendAlert(rule, hello)
				return EndClosedByLab, false
			}
		}
	} else {
		c.rec.TLSError = err.Error()
	}
	if c.srv.tls == nil {
		// No certificate and no rule matched (the ClientHello did not
		// even parse): nothing can complete, say nothing and close, as
		// OpenSSL does to a record it cannot read.
		return EndClosedByLab, false
	}
	// Replay what we read to a real TLS stack; whatever it decides
	// (including its own alerts) goes on the wire.
	rc := &replayConn{Conn: c.raw, pending: raw}
	tc := tls.Server(rc, c.srv.tls)
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return c.handshakeFailed(err, rc), false
	}
	c.raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tls = tc
	c.client = tc
	c.br.Reset(tc)
	c.bw.Reset(tc)
	c.rec.TLS = &TLSState{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite), SNI: st.ServerName}
	return "", true
}

// sendAlert puts a rule's alert on the wire exactly as the imitated server
// does (one alert record, then FIN), records it, and logs what that server
// logs. Wire and words at the same spot.
func (c *conn) sendAlert(rule rejection, hello *ClientHello) {
	rec := rule.alert.Record(hello.AlertVersion())
	c.raw.SetWriteDeadline(time.Now().Add(c.srv.cfg.Timeouts.Handshake))
	if _, err := c.raw.Write(rec); err != nil {
		c.note("writing alert: %v", err)
	}
	c.rec.AlertSent = rule.alert.JSON()
	c.rec.TLSError = rule.log
	sni, _ := hello.ServerName()
	c.srv.cfg.Logger.Info(c.rec.Scenario+" "+c.rec.ID+": TLS handshake refused: "+rule.log,
		"remote", c.rec.Remote, "sni", sni, "alert", rule.alert.String())
}

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
		Cipher: anonymousSuiteName(id),
		Why:    "an OpenSSL 1.0 build with no certificate negotiates the first anonymous suite the client offers; Go's crypto/tls cannot",
	}
}

// handshakeFailed records why crypto/tls gave up and how the session ends.
func (c *conn) handshakeFailed(err error, rc *replayConn) EndReason {
	c.rec.TLSError = err.Error()
	if rc.alert != nil {
		c.rec.AlertSent = rc.alert.JSON()
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return EndTimeout
	case strings.Contains(err.Error(), "remote error"), errors.Is(err, io.EOF):
		return EndClosedByClient
	case errors.Is(err, net.ErrClosed) && c.aborted():
		return EndClosedByLab
	}
	if rc.alert != nil {
		return EndClosedByLab
	}
	return c.endFromError(err)
}

// replayConn gives crypto/tls the bytes the wire layer already read, then
// the live connection; it notes the alert crypto/tls writes, if any.
type replayConn struct {
	net.Conn
	pending []byte
	alert   *tlsalert.Alert
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

func (r *replayConn) Write(p []byte) (int, error) {
	// A plaintext alert record (before encryption starts) is 7 bytes.
	if len(p) == 7 && p[0] == 21 && r.alert == nil {
		r.alert = &tlsalert.Alert{Level: tlsalert.Level(p[5]), Description: tlsalert.Description(p[6])}
	}
	return r.Conn.Write(p)
}

// anonymousSuiteName names the anonymous suites OpenSSL 1.0 offered
// (IANA names; crypto/tls has none of them).
func anonymousSuiteName(id uint16) string {
	names := map[uint16]string{
		0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
		0x001b: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
		0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
		0x003a: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
		0x006c: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
		0x006d: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
		0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
		0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
		0x009b: "TLS_DH_anon_WITH_SEED_CBC_SHA",
		0x00a6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
		0x00a7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
		0xc015: "TLS_ECDH_anon_WITH_NULL_SHA",
		0xc016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
		0xc017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
		0xc018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
		0xc019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
	}
	if n, ok := names[id]; ok {
		return n
	}
	return "0x" + hex16(id)
}
