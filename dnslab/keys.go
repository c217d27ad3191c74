package dnslab

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// DNSKEY flags (RFC 4034 §2.1.1, RFC 3757 §2): every key of the zone has
// the Zone Key bit; the key-signing key also has the Secure Entry Point
// bit, which marks the key a trust anchor or a parent's DS points at.
const (
	FlagsZSK = dns.ZONE           // 256
	FlagsKSK = dns.ZONE | dns.SEP // 257
)

// Algorithm is the signing algorithm of the lab's keys: ECDSA P-256 with
// SHA-256 (RFC 6605), algorithm 13, which every validator of the last
// decade implements (RFC 8624 §3.1: MUST) and whose signatures are small,
// so signed answers stay well below 1232 bytes.
const Algorithm = dns.ECDSAP256SHA256

// ErrBadKey is wrapped by errors for a key that cannot be read or does not
// sign for the lab.
var ErrBadKey = errors.New("bad DNSSEC key")

// Key is one DNSSEC key of the lab zone: its public half as a DNSKEY
// record and its private half.
type Key struct {
	// DNSKEY is the public key. Its owner name is the zone's origin when
	// it is served; the key itself does not depend on the name.
	DNSKEY *dns.DNSKEY
	// Private signs with the key.
	Private *ecdsa.PrivateKey
}

// Keys are the two keys of the lab zone (RFC 6781 §3.1): the key-signing
// key signs only the DNSKEY RRset and is the trust anchor; the
// zone-signing key signs every other RRset.
type Keys struct {
	KSK, ZSK Key
}

// GenerateKeys makes a new key pair for the zone origin: a KSK and a ZSK,
// both ECDSA P-256.
func GenerateKeys(origin string) (*Keys, error) {
	ksk, err := generateKey(origin, FlagsKSK)
	if err != nil {
		return nil, err
	}
	zsk, err := generateKey(origin, FlagsZSK)
	if err != nil {
		return nil, err
	}
	return &Keys{KSK: ksk, ZSK: zsk}, nil
}

func generateKey(origin string, flags uint16) (Key, error) {
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(origin), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flags,
		Protocol:  3, // RFC 4034 §2.1.2: always 3
		Algorithm: Algorithm,
	}
	priv, err := k.Generate(256)
	if err != nil {
		return Key{}, fmt.Errorf("dnslab: generate a DNSSEC key: %w", err)
	}
	p, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("dnslab: generate a DNSSEC key: got a %T, want ECDSA: %w", priv, ErrBadKey)
	}
	return Key{DNSKEY: k, Private: p}, nil
}

// MarshalText writes the key as two parts, each in BIND's syntax: the
// DNSKEY record (a K*.key file) and the private key (a K*.private file,
// Private-key-format v1.3), so dnssec-signzone and ldns can read it too.
func (k Key) MarshalText() ([]byte, error) {
	if k.DNSKEY == nil || k.Private == nil {
		return nil, fmt.Errorf("dnslab: marshal a key without its DNSKEY or private key: %w", ErrBadKey)
	}
	role := "zone-signing key"
	if k.DNSKEY.Flags&dns.SEP != 0 {
		role = "key-signing key"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "; mxlab's DNSSEC %s, key tag %d: the DNSKEY, then the private key\n", role, k.DNSKEY.KeyTag())
	b.WriteString(k.DNSKEY.String() + "\n")
	b.WriteString(k.DNSKEY.PrivateKeyString(k.Private))
	return b.Bytes(), nil
}

// ParseKey reads a key written by [Key.MarshalText]. It checks what a
// signer needs: a zone key of algorithm 13 whose private half belongs to
// its public half. Its errors wrap [ErrBadKey].
func ParseKey(text []byte) (Key, error) {
	var pub strings.Builder
	fields := map[string]string{} // the private part's "Name: value" lines, names lower case
	for _, line := range strings.Split(string(text), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, ";") {
			continue
		}
		// "Private-key-format: v1.3", "Algorithm: 13 (…)", "PrivateKey: …";
		// a DNSKEY line has no colon (names, numbers, base64).
		if name, value, ok := strings.Cut(t, ":"); ok {
			fields[strings.ToLower(name)] = strings.TrimSpace(value)
			continue
		}
		pub.WriteString(t + "\n")
	}
	rr, err := dns.NewRR(pub.String())
	if err != nil {
		return Key{}, fmt.Errorf("dnslab: key: the DNSKEY: %w: %w", err, ErrBadKey)
	}
	dnskey, ok := rr.(*dns.DNSKEY)
	if !ok {
		return Key{}, fmt.Errorf("dnslab: key: want a DNSKEY record, got %q: %w", strings.TrimSpace(pub.String()), ErrBadKey)
	}
	tag := dnskey.KeyTag()
	switch {
	case dnskey.Algorithm != Algorithm:
		return Key{}, fmt.Errorf("dnslab: key %d: algorithm %d, want %d (ECDSAP256SHA256): %w", tag, dnskey.Algorithm, Algorithm, ErrBadKey)
	case dnskey.Flags != FlagsKSK && dnskey.Flags != FlagsZSK:
		return Key{}, fmt.Errorf("dnslab: key %d: flags %d, want %d or %d: %w", tag, dnskey.Flags, FlagsKSK, FlagsZSK, ErrBadKey)
	}
	// BIND's private key format (dnssec-keygen(8)): v1.2 or v1.3, the
	// algorithm, and for ECDSA the private scalar, 32 octets.
	if f := fields["private-key-format"]; f != "v1.2" && f != "v1.3" {
		return Key{}, fmt.Errorf("dnslab: key %d: private key format %q, want v1.3: %w", tag, f, ErrBadKey)
	}
	if alg, _, _ := strings.Cut(fields["algorithm"], " "); alg != "13" {
		return Key{}, fmt.Errorf("dnslab: key %d: private key algorithm %q, want 13: %w", tag, fields["algorithm"], ErrBadKey)
	}
	scalar, err := base64.StdEncoding.DecodeString(fields["privatekey"])
	if err != nil || len(scalar) == 0 || len(scalar) > 32 {
		return Key{}, fmt.Errorf("dnslab: key %d: no private scalar of 32 octets: %w", tag, ErrBadKey)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), append(make([]byte, 32-len(scalar)), scalar...))
	if err != nil {
		return Key{}, fmt.Errorf("dnslab: key %d: the private key: %w: %w", tag, err, ErrBadKey)
	}
	// The DNSKEY's public key is the point's X and Y (RFC 6605 §4); a
	// private key that is not its own would make every signature bogus.
	point, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return Key{}, fmt.Errorf("dnslab: key %d: the public key: %w: %w", tag, err, ErrBadKey)
	}
	published, err := base64.StdEncoding.DecodeString(dnskey.PublicKey)
	if err != nil || !bytes.Equal(published, point[1:]) {
		return Key{}, fmt.Errorf("dnslab: key %d: the private key does not belong to the DNSKEY: %w", tag, ErrBadKey)
	}
	return Key{DNSKEY: dnskey, Private: priv}, nil
}

// TrustAnchor returns what a validator needs to trust the zone origin
// signed with these keys (RFC 4033 §3, RFC 4034 §5): the KSK's DNSKEY and
// its DS digest (SHA-256, RFC 4509), both owned by the origin and with
// ttl.
func (k *Keys) TrustAnchor(origin string, ttl uint32) (*dns.DS, *dns.DNSKEY) {
	key := k.KSK.dnskeyAt(dns.CanonicalName(origin), ttl)
	return key.ToDS(dns.SHA256), key
}

// dnskeyAt returns a copy of the key's DNSKEY owned by origin with ttl.
func (k Key) dnskeyAt(origin string, ttl uint32) *dns.DNSKEY {
	c := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
	c.Hdr.Name = origin
	c.Hdr.Class = dns.ClassINET
	c.Hdr.Ttl = ttl
	return c
}
