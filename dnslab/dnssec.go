package dnslab

import (
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Mode is how the server stands towards DNSSEC validation. In both modes
// the zone is signed and answers carry RRSIGs and NSEC records to a query
// with DO (RFC 4035 §3.1.1, §3.1.3).
type Mode string

// Modes.
const (
	// ModeAD (the default) answers as a validating resolver would answer
	// a stub, for setups without a validator (the sender, `mxlab matrix`
	// in-process, Postfix pointed straight at the lab): AD on
	// secure answers when the query asked for DNSSEC (RFC 6840 §5.7), no
	// AD below an insecure delegation, and SERVFAIL for a bogus RRset
	// (RFC 4035 §5.5) unless the query set CD (RFC 4035 §3.2.2).
	ModeAD Mode = "ad"
	// ModeSigned is a plain authoritative server of the signed zone: it
	// never sets AD and serves bogus signatures as they are; a
	// validating resolver with the lab's trust anchor in front of it
	// (unbound, delv) decides what is secure.
	ModeSigned Mode = "signed"
)

// Modes lists the modes, the default first.
var Modes = []Mode{ModeAD, ModeSigned}

// ParseMode returns the mode named s; "" is ModeAD.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return ModeAD, nil
	}
	for _, m := range Modes {
		if Mode(s) == m {
			return m, nil
		}
	}
	return "", fmt.Errorf("dnssec mode %q: want %s or %s", s, ModeAD, ModeSigned)
}

// Signature validity (RFC 4034 §3.1.5). The zone is signed once, when it
// is compiled, and never re-signed: the signatures must outlive any lab
// run. Inception is an hour back, for validators whose clock is behind.
const (
	sigBackdate = time.Hour
	sigValidity = 365 * 24 * time.Hour
)

// chainLink is one name of the NSEC chain, with its labels in canonical
// form for ordering.
type chainLink struct {
	name   string
	labels [][]byte
	node   *node
}

// sign signs the compiled zone with z.Keys (made afresh when nil), once:
// the DNSKEY RRset at the apex, signed by the KSK; an RRSIG by the ZSK
// over every other RRset of the signed zone (RFC 4035 §2.2); and the NSEC
// chain over its names in canonical order (RFC 4035 §2.3, RFC 4034 §6.1).
// Names in an insecure delegation's child zone get neither, except the
// delegation point itself, whose NSEC in the parent shows NS and no DS
// (RFC 4035 §2.3, §5.2; its NS RRset is not signed, RFC 4035 §2.2). Then
// the RRSIGs of Zone.Bogus are broken.
func (ix *index) sign(z *Zone) error {
	keys := z.Keys
	if keys == nil {
		var err error
		if keys, err = GenerateKeys(ix.origin); err != nil {
			return err
		}
	}
	if keys.KSK.DNSKEY == nil || keys.KSK.Private == nil || keys.ZSK.DNSKEY == nil || keys.ZSK.Private == nil {
		return fmt.Errorf("dnslab: zone %s: a key lacks its DNSKEY or private key: %w", ix.origin, ErrBadKey)
	}
	now := time.Now
	if z.Now != nil {
		now = z.Now
	}
	t := now()
	s := signer{
		origin:     ix.origin,
		inception:  uint32(t.Add(-sigBackdate).Unix()),
		expiration: uint32(t.Add(sigValidity).Unix()),
	}
	ksk := keys.KSK.dnskeyAt(ix.origin, ix.ttl)
	zsk := keys.ZSK.dnskeyAt(ix.origin, ix.ttl)
	ix.add(ix.origin, ksk)
	ix.add(ix.origin, zsk)

	for name, n := range ix.names {
		if len(n.rrs) == 0 || ix.zoneOf(name) != ix.origin {
			continue // an empty non-terminal, or the unsigned child
		}
		n.sigs = map[uint16][]dns.RR{}
		for _, set := range rrsets(n.rrs) {
			typ := set[0].Header().Rrtype
			key := Key{DNSKEY: zsk, Private: keys.ZSK.Private}
			if typ == dns.TypeDNSKEY {
				key = Key{DNSKEY: ksk, Private: keys.KSK.Private}
			}
			sig, err := s.sign(set, key)
			if err != nil {
				return err
			}
			n.sigs[typ] = []dns.RR{sig}
		}
	}

	// The NSEC chain: every name of the signed zone that owns records,
	// the delegation points included, in canonical order.
	for name, n := range ix.names {
		if len(n.rrs) == 0 {
			continue
		}
		if ix.cuts[name] == nil && ix.zoneOf(name) != ix.origin {
			continue
		}
		ix.chain = append(ix.chain, chainLink{name: name, labels: canonicalLabels(name), node: n})
	}
	slices.SortFunc(ix.chain, func(a, b chainLink) int { return compareLabels(a.labels, b.labels) })
	// RFC 9077 §3: an NSEC's TTL is the smaller of the SOA's MINIMUM
	// and the SOA's own TTL, the negative-caching TTL of RFC 2308 §5.
	nsecTTL := min(ix.soa.Hdr.Ttl, ix.soa.Minttl)
	zskKey := Key{DNSKEY: zsk, Private: keys.ZSK.Private}
	for i, link := range ix.chain {
		next := ix.chain[(i+1)%len(ix.chain)].name // the last one points back at the apex
		var types []uint16
		if ix.cuts[link.name] != nil {
			// The parent's view of a delegation point: NS, and no DS.
			types = []uint16{dns.TypeNS}
		} else {
			for _, set := range rrsets(link.node.rrs) {
				types = append(types, set[0].Header().Rrtype)
			}
		}
		types = append(types, dns.TypeRRSIG, dns.TypeNSEC)
		slices.Sort(types)
		nsec := &dns.NSEC{
			Hdr:        dns.RR_Header{Name: link.name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: nsecTTL},
			NextDomain: next,
			TypeBitMap: slices.Compact(types),
		}
		sig, err := s.sign([]dns.RR{nsec}, zskKey)
		if err != nil {
			return err
		}
		link.node.nsec = []dns.RR{nsec, sig}
	}

	for _, b := range z.Bogus {
		n := ix.names[dns.CanonicalName(b.Name)]
		if n == nil || len(n.sigs[b.Type]) == 0 {
			continue // nothing signed there: Validate names the owner, the records may be absent
		}
		for _, rr := range n.sigs[b.Type] {
			breakSignature(rr.(*dns.RRSIG))
		}
		if n.bogus == nil {
			n.bogus = map[uint16]bool{}
		}
		n.bogus[b.Type] = true
	}
	return nil
}

// signer makes the zone's RRSIGs, all with the same validity period.
type signer struct {
	origin                string
	inception, expiration uint32
}

// sign returns the RRSIG of key over set (one RRset; RFC 4034 §3). For a
// wildcard owner the labels field leaves out the "*" (RFC 4034 §3.1.3),
// which is how a validator recognises a synthesized answer (RFC 4035
// §5.3.4).
func (s signer) sign(set []dns.RR, key Key) (*dns.RRSIG, error) {
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Ttl: set[0].Header().Ttl},
		Algorithm:  key.DNSKEY.Algorithm,
		Expiration: s.expiration,
		Inception:  s.inception,
		KeyTag:     key.DNSKEY.KeyTag(),
		SignerName: s.origin,
	}
	if err := sig.Sign(key.Private, set); err != nil {
		return nil, fmt.Errorf("dnslab: sign %s %s: %w", set[0].Header().Name, dns.Type(set[0].Header().Rrtype), err)
	}
	return sig, nil
}

// breakSignature makes sig fail verification, as a signature over records
// changed after signing does: a validator finds it does not verify (RFC
// 4035 §5.3.3) and, with no other signature, the RRset bogus (RFC 4035
// §5.5). One bit of the ECDSA s value is flipped, which no other valid
// signature has.
func breakSignature(sig *dns.RRSIG) {
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || len(raw) == 0 {
		sig.Signature = base64.StdEncoding.EncodeToString(make([]byte, 64))
		return
	}
	raw[len(raw)-1] ^= 0x01
	sig.Signature = base64.StdEncoding.EncodeToString(raw)
}

// rrsets groups records by type, in the order the types first appear.
func rrsets(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	at := map[uint16]int{}
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		i, ok := at[t]
		if !ok {
			i = len(out)
			at[t] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], rr)
	}
	return out
}

// canonicalLabels returns name's labels in wire order (the least
// significant first), each in canonical form: the octets of the wire
// format with upper case US-ASCII letters lowered (RFC 4034 §6.1, §6.2).
// Escapes such as \046 are decoded, so that they order by their octet.
func canonicalLabels(name string) [][]byte {
	buf := make([]byte, 256)
	off, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		// Not a name that packs (fuzzed queries): order it by its text.
		var labels [][]byte
		for _, l := range dns.SplitDomainName(name) {
			labels = append(labels, lowerASCII([]byte(l)))
		}
		return labels
	}
	var labels [][]byte
	for i := 0; i < off && buf[i] != 0; {
		l := int(buf[i])
		labels = append(labels, lowerASCII(buf[i+1:i+1+l]))
		i += 1 + l
	}
	return labels
}

// lowerASCII lowers US-ASCII letters only (RFC 4034 §6.2).
func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// compareLabels orders two names in canonical DNS order (RFC 4034 §6.1):
// label by label from the most significant (the last), each compared as
// octets, with a missing octet before any; a name sorts before the names
// below it.
func compareLabels(a, b [][]byte) int {
	for i := 1; i <= min(len(a), len(b)); i++ {
		la, lb := a[len(a)-i], b[len(b)-i]
		for j := 0; j < min(len(la), len(lb)); j++ {
			if la[j] != lb[j] {
				return int(la[j]) - int(lb[j])
			}
		}
		if len(la) != len(lb) {
			return len(la) - len(lb)
		}
	}
	return len(a) - len(b)
}
