package server

import (
	"fmt"

	"github.com/mxlab/mxlab/tlsalert"
)

// TLSRecord is the header of one TLS record (RFC 8446 §5.1, RFC 5246
// §6.2.1) as the transcript shows it, with what a plaintext record
// reveals: the first handshake message it carries, or its alert.
type TLSRecord struct {
	Type     string `json:"type"`
	TypeCode uint8  `json:"type_code"`
	// Version is the record-layer version as sent ("0x0303"): TLS 1.3
	// freezes it at 0x0303 (RFC 8446 §5.1), and a server answering a TLS
	// 1.0 ClientHello's alert uses 0x0301.
	Version   string         `json:"version"`
	Length    int            `json:"length"`
	Handshake string         `json:"handshake,omitempty"`
	Alert     *tlsalert.JSON `json:"alert,omitempty"`
}

// contentTypes are the record types of RFC 8446 §5.1 and RFC 6520.
var contentTypes = map[uint8]string{
	20: "change_cipher_spec",
	21: "alert",
	22: "handshake",
	23: "application_data",
	24: "heartbeat",
}

// handshakeTypes name the first message of a plaintext handshake record
// (RFC 8446 §4, RFC 5246 §7.4).
var handshakeTypes = map[uint8]string{
	0: "hello_request", 1: "client_hello", 2: "server_hello", 4: "new_session_ticket",
	8: "encrypted_extensions", 11: "certificate", 12: "server_key_exchange",
	13: "certificate_request", 14: "server_hello_done", 15: "certificate_verify",
	16: "client_key_exchange", 20: "finished",
}

// maxRecordLength is the largest record a peer may send: 2^14 plus the
// expansion RFC 5246 §6.2.3 allows (2048); a longer one is not TLS.
const maxRecordLength = 1<<14 + 2048

// recordScanner follows the record framing of one direction of a TLS
// connection and reports each record once it has gone by. It only looks:
// the bytes it is fed have already been sent or received. Bytes that are
// not TLS (a client that sends plaintext after STARTTLS) stop it.
type recordScanner struct {
	cur    recordHeader
	nhdr   int
	left   int
	broken bool
	// encrypted is set by a change_cipher_spec: the TLS 1.2 Finished
	// that follows is a handshake record whose body is ciphertext.
	encrypted bool
	done      []recordHeader // what feed returns, reused
}

// recordHeader is what the transcript keeps of one TLS record: its
// header and the first two bytes of its body, 9 bytes where a
// TLSRecord takes about a hundred (an idle TLS session keeps a dozen,
// issue 14). describe turns it into a TLSRecord when it is shown.
type recordHeader struct {
	hdr       [5]byte
	body      [2]byte
	nbody     uint8
	encrypted bool // a handshake record after change_cipher_spec
}

// feed takes the next bytes of the stream and returns the records that
// ended in them (valid until the next call), and a description of the
// first bytes that are not TLS.
func (s *recordScanner) feed(p []byte) (recs []recordHeader, notTLS string) {
	s.done = s.done[:0]
	for len(p) > 0 && !s.broken {
		if s.nhdr < 5 {
			n := copy(s.cur.hdr[s.nhdr:], p)
			s.nhdr += n
			p = p[n:]
			if s.nhdr < 5 {
				break
			}
			s.left = int(s.cur.hdr[3])<<8 | int(s.cur.hdr[4])
			if _, ok := contentTypes[s.cur.hdr[0]]; !ok || s.cur.hdr[1] != 3 || s.left > maxRecordLength {
				s.broken = true
				return s.done, fmt.Sprintf("bytes that are not a TLS record (% x)", s.cur.hdr[:])
			}
			s.cur.nbody = 0
		}
		n := min(s.left, len(p))
		for i := 0; i < n && s.cur.nbody < 2; i++ {
			s.cur.body[s.cur.nbody] = p[i]
			s.cur.nbody++
		}
		s.left -= n
		p = p[n:]
		if s.left == 0 {
			s.cur.encrypted = s.encrypted && s.cur.hdr[0] == 22
			if s.cur.hdr[0] == 20 {
				s.encrypted = true
			}
			s.done = append(s.done, s.cur)
			s.nhdr = 0
		}
	}
	return s.done, ""
}

// recordVersions are the record-layer versions a peer sends, spelt
// once: describing a record allocates nothing for them.
var recordVersions = map[uint16]string{0x0300: "0x0300", 0x0301: "0x0301", 0x0302: "0x0302", 0x0303: "0x0303", 0x0304: "0x0304"}

// describe is the record as the transcript shows it.
func (h recordHeader) describe() TLSRecord {
	typ := h.hdr[0]
	v := uint16(h.hdr[1])<<8 | uint16(h.hdr[2])
	version, ok := recordVersions[v]
	if !ok {
		version = fmt.Sprintf("0x%04x", v)
	}
	r := TLSRecord{
		Type: contentTypes[typ], TypeCode: typ,
		Version: version,
		Length:  int(h.hdr[3])<<8 | int(h.hdr[4]),
	}
	switch {
	case typ == 22 && h.encrypted:
		r.Handshake = "encrypted"
	case typ == 22 && h.nbody > 0:
		if name, ok := handshakeTypes[h.body[0]]; ok {
			r.Handshake = name
		} else {
			r.Handshake = fmt.Sprintf("type(%d)", h.body[0])
		}
	case typ == 21 && r.Length == 2 && h.nbody == 2:
		r.Alert = tlsalert.Alert{Level: tlsalert.Level(h.body[0]), Description: tlsalert.Description(h.body[1])}.JSON()
	}
	return r
}

// tlsTrace records the TLS records of both directions during STARTTLS.
type tlsTrace struct {
	in, out recordScanner
	stopped bool
}

// sawTLS records bytes that went by during STARTTLS in the transcript.
func (c *conn) sawTLS(from Side, p []byte) {
	if c.trace.stopped || len(p) == 0 {
		return
	}
	sc := &c.trace.in
	if from == FromServer {
		sc = &c.trace.out
	}
	recs, notTLS := sc.feed(p)
	for _, h := range recs {
		c.transcript.addRecord(c.srv.cfg.Now(), from, h)
	}
	if notTLS != "" {
		c.step(Step{From: from, Kind: StepNote, Text: string(from) + " sent " + notTLS})
	}
}
