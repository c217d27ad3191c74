package server

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mxlab/mxlab/anontls"
	"github.com/mxlab/mxlab/tlsname"
	"golang.org/x/crypto/cryptobyte"
)

// TLS record and handshake constants (RFC 8446 §5.1, §4).
const (
	recordTypeHandshake = 22
	recordHeaderLen     = 5
	maxPlaintext        = 1 << 14 // RFC 8446 §5.1: TLSPlaintext.length
	typeClientHello     = 1
	// maxClientHello bounds what we buffer before giving up: post-quantum
	// key shares make ClientHellos of a few KiB; nothing legitimate is
	// near 64 KiB.
	maxClientHello = 1 << 16

	extServerName        = 0
	extSupportedGroups   = 10
	extSignatureAlgs     = 13
	extALPN              = 16
	extSupportedVersions = 43
)

// ClientHello is what a client offered, as recorded in session records
// (docs/contracts.md: hex strings, in the client's order).
type ClientHello struct {
	// SNI is the first host_name entry of server_name, nil without one.
	SNI *string `json:"sni"`
	// LegacyVersion is the version field inside the ClientHello.
	LegacyVersion     string   `json:"legacy_version"`
	SupportedVersions []string `json:"supported_versions"`
	CipherSuites      []string `json:"cipher_suites"`
	// CipherSuiteNames are CipherSuites' IANA names, in the same order.
	CipherSuiteNames []string `json:"cipher_suite_names"`
	// AnonymousOffered is true when the client offered an anonymous
	// (DH_anon or ECDH_anon) suite, as Postfix does at may/encrypt.
	AnonymousOffered bool     `json:"anonymous_offered"`
	Groups           []string `json:"groups"`
	// GroupNames are Groups' IANA names, in the same order.
	GroupNames       []string `json:"group_names"`
	SignatureSchemes []string `json:"signature_schemes"`
	ALPN             []string `json:"alpn"`
	Extensions       []string `json:"extensions"`

	// SNIMalformed is set when server_name is present but does not parse
	// by GnuTLS's rules (lib/ext/server_name.c): empty list, a zero-length
	// name or a length that does not add up.
	SNIMalformed bool `json:"-"`

	legacy   uint16
	versions []uint16
	suites   []uint16
}

// ErrNotHandshake is returned when the first record after STARTTLS is not
// a TLS handshake record (e.g. the client kept talking plaintext SMTP).
var ErrNotHandshake = errors.New("not a TLS handshake record")

// readClientHello reads TLS records from r until it holds one whole
// ClientHello message. It returns every byte read, to be replayed to
// crypto/tls, and the message body (after the 4-byte handshake header).
func readClientHello(r io.Reader) (raw, body []byte, err error) {
	var msg []byte
	for {
		var hdr [recordHeaderLen]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return raw, nil, err
		}
		raw = append(raw, hdr[:]...)
		if hdr[0] != recordTypeHandshake {
			return raw, nil, fmt.Errorf("%w (first bytes % x)", ErrNotHandshake, hdr[:])
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || n > maxPlaintext {
			return raw, nil, fmt.Errorf("record length %d out of range", n)
		}
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if _, err := io.ReadFull(r, raw[start:]); err != nil {
			return raw, nil, err
		}
		msg = append(msg, raw[start:]...)
		if len(msg) < 4 {
			continue
		}
		if msg[0] != typeClientHello {
			return raw, nil, fmt.Errorf("handshake message type %d, want ClientHello (1)", msg[0])
		}
		l := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if l > maxClientHello {
			return raw, nil, fmt.Errorf("ClientHello of %d bytes is too large", l)
		}
		if len(msg) >= 4+l {
			return raw, msg[4 : 4+l], nil
		}
	}
}

// parseClientHello parses a ClientHello body (RFC 8446 §4.1.2).
func parseClientHello(body []byte) (*ClientHello, error) {
	s := cryptobyte.String(body)
	h := &ClientHello{SupportedVersions: []string{}, CipherSuites: []string{}, Groups: []string{}, GroupNames: []string{},
		SignatureSchemes: []string{}, ALPN: []string{}, Extensions: []string{}}
	var random, sessionID, suites, compression cryptobyte.String
	if !s.ReadUint16(&h.legacy) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&compression) {
		return nil, errors.New("malformed ClientHello")
	}
	h.LegacyVersion = hex16(h.legacy)
	for !suites.Empty() {
		var id uint16
		if !suites.ReadUint16(&id) {
			return nil, errors.New("malformed cipher_suites")
		}
		h.suites = append(h.suites, id)
		h.CipherSuites = append(h.CipherSuites, hex16(id))
		h.AnonymousOffered = h.AnonymousOffered || anontls.Is(id)
	}
	h.CipherSuiteNames = tlsname.Names(h.suites, tlsname.Suite)
	if s.Empty() { // extensions are optional before TLS 1.3
		return h, nil
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, errors.New("malformed extensions")
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errors.New("malformed extension")
		}
		h.Extensions = append(h.Extensions, hex16(typ))
		var err error
		switch typ {
		case extServerName:
			h.parseServerName(data)
		case extSupportedVersions:
			h.versions, err = readUint16List(data, (*cryptobyte.String).ReadUint8LengthPrefixed)
			h.SupportedVersions = hexList(h.versions)
		case extSupportedGroups:
			var g []uint16
			g, err = readUint16List(data, (*cryptobyte.String).ReadUint16LengthPrefixed)
			h.Groups, h.GroupNames = hexList(g), tlsname.Names(g, tlsname.Group)
		case extSignatureAlgs:
			var sa []uint16
			sa, err = readUint16List(data, (*cryptobyte.String).ReadUint16LengthPrefixed)
			h.SignatureSchemes = hexList(sa)
		case extALPN:
			err = h.parseALPN(data)
		}
		if err != nil {
			return nil, fmt.Errorf("extension %s: %w", hex16(typ), err)
		}
	}
	return h, nil
}

// parseServerName follows GnuTLS's server-side parser: it keeps the first
// host_name (type 0) entry and skips entries of other types; any length
// that does not add up, or a zero-length name, is malformed.
func (h *ClientHello) parseServerName(data cryptobyte.String) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		h.SNIMalformed = true
		return
	}
	for !list.Empty() {
		var typ uint8
		var name cryptobyte.String
		if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) || name.Empty() {
			h.SNIMalformed = true
			return
		}
		if typ == 0 && h.SNI == nil {
			n := string(name)
			h.SNI = &n
		}
	}
}

func (h *ClientHello) parseALPN(data cryptobyte.String) error {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
		return errors.New("malformed ALPN")
	}
	for !list.Empty() {
		var proto cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&proto) {
			return errors.New("malformed ALPN")
		}
		h.ALPN = append(h.ALPN, string(proto))
	}
	return nil
}

func readUint16List(data cryptobyte.String, prefixed func(*cryptobyte.String, *cryptobyte.String) bool) ([]uint16, error) {
	var list cryptobyte.String
	if !prefixed(&data, &list) || !data.Empty() {
		return nil, errors.New("malformed list")
	}
	var out []uint16
	for !list.Empty() {
		var v uint16
		if !list.ReadUint16(&v) {
			return nil, errors.New("odd list length")
		}
		out = append(out, v)
	}
	return out, nil
}

// ServerName returns the SNI and whether one was sent.
func (h *ClientHello) ServerName() (string, bool) {
	if h.SNI == nil {
		return "", false
	}
	return *h.SNI, true
}

// Offers reports whether the client offered the TLS version v.
func (h *ClientHello) Offers(v uint16) bool {
	if len(h.versions) > 0 {
		return slices.Contains(h.versions, v)
	}
	return v <= h.legacy && v >= 0x0300
}

// MaxVersion is the highest version the client offered (supported_versions
// if present, legacy_version otherwise; RFC 8446 §4.2.1). GREASE values
// (RFC 8701) are skipped.
func (h *ClientHello) MaxVersion() uint16 {
	if len(h.versions) == 0 {
		return h.legacy
	}
	var maxV uint16
	for _, v := range h.versions {
		if v&0x0f0f == 0x0a0a { // GREASE
			continue
		}
		maxV = max(maxV, v)
	}
	return maxV
}

// OnlyTLS13 reports whether TLS 1.3 is the only version offered.
func (h *ClientHello) OnlyTLS13() bool {
	if len(h.versions) == 0 {
		return false
	}
	for _, v := range h.versions {
		if v&0x0f0f == 0x0a0a {
			continue
		}
		if v != 0x0304 {
			return false
		}
	}
	return true
}

// AlertVersion is the record-layer version a server puts on an alert it
// sends in answer to this ClientHello: the version negotiated so far,
// with TLS 1.3 written as 03 03 (RFC 8446 §5.1). Measured on gnutls-serv
// and openssl s_server (lib/record.c copy_record_version): a TLS 1.0
// client gets 03 01 even when its record header says 03 03.
func (h *ClientHello) AlertVersion() uint16 {
	v := h.MaxVersion()
	if v > 0x0303 {
		return 0x0303
	}
	if v < 0x0301 {
		return 0x0301
	}
	return v
}

// FirstAnonymousSuite returns the first anonymous suite in the client's
// order: what an OpenSSL 1.0 server without SSL_OP_CIPHER_SERVER_PREFERENCE
// and an aNULL-only list picks (ssl3_choose_cipher walks the client's list).
func (h *ClientHello) FirstAnonymousSuite() (uint16, bool) {
	for _, id := range h.suites {
		if anontls.Is(id) {
			return id, true
		}
	}
	return 0, false
}

func hex16(v uint16) string { return fmt.Sprintf("%04x", v) }

func hexList(vs []uint16) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = hex16(v)
	}
	return out
}
