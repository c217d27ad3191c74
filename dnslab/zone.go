package dnslab

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// DefaultOrigin is the lab zone's name when the configuration names none.
const DefaultOrigin = "mxlab.test."

// soaSerial is the serial of the synthesized SOA. It is fixed: the zone is
// built once per process and never transferred, so no secondary ever
// compares serials.
const soaSerial = 1

// Errors a [Zone] or [ParseRecords] can report, for errors.Is.
var (
	// ErrOutsideZone is returned for an owner name that is not at or below the zone's origin.
	ErrOutsideZone = errors.New("name outside the zone")
	// ErrRecordType is returned for a record type that configuration may not add.
	ErrRecordType = errors.New("record type not allowed")
	// ErrBadZone is returned for a zone whose origin or records cannot be served as given.
	ErrBadZone = errors.New("bad zone")
)

// Zone is the data the server answers from: every record of the lab zone, with absolute owner names.
//
// The lab builds it once and hands it to [Start] or [NewHandler], which take
// a snapshot and sign it (dnssec.go): changing a Zone afterwards does not
// change what a running server answers.
type Zone struct {
	// Origin is the zone's apex as a fully qualified name, e.g. "mxlab.test.".
	Origin string
	// TTL is put on the records the server synthesizes (SOA, NS, the NS's
	// address, DNSKEY, the ". NS" probe answer); Records carry their own TTL.
	TTL uint32
	// Records are all the zone's records; an owner "*.<name>" is a wildcard
	// with RFC 4592 semantics. DNSSEC records are the server's own: it
	// makes DNSKEY, RRSIG and NSEC from Keys.
	Records []dns.RR
	// Insecure lists names strictly below the origin that are insecure
	// delegations (RFC 4035 §5.2, RFC 4033 §2 "insecure"): each is the
	// apex of a child zone that the server also serves, unsigned, while
	// the signed parent holds its NS and an NSEC proving it has no DS. A
	// validating resolver then answers for every name at or below it
	// without AD; in [ModeAD] the server itself sets no AD there.
	Insecure []string
	// Bogus lists RRsets whose signatures are made not to verify, as if
	// the records had been changed after the zone was signed: a
	// validating resolver answers SERVFAIL for them (RFC 4035 §5.5), and
	// so does the server itself in [ModeAD]. Owners must be in the signed
	// part of the zone.
	Bogus []RRset
	// Keys sign the zone; nil makes a new pair each time the zone is
	// compiled (tests; a lab keeps its keys in its state directory).
	Keys *Keys
	// Mode says whether the server stands in for a validating resolver
	// (ModeAD, also the zero value) or is only the signed zone's
	// authoritative server (ModeSigned).
	Mode Mode
	// Now is the clock the signatures' validity period starts from
	// (nil: time.Now).
	Now func() time.Time
}

// RRset names one RRset of the zone: its owner and type.
type RRset struct {
	// Name is the owner, fully qualified; a wildcard is "*.<name>".
	Name string
	// Type is the RR type, e.g. dns.TypeTLSA.
	Type uint16
}

// NewZone returns an empty zone for origin (made fully qualified and lower
// case) whose synthesized records get ttl.
func NewZone(origin string, ttl uint32) *Zone {
	return &Zone{Origin: dns.CanonicalName(origin), TTL: ttl}
}

// Add appends records to the zone.
func (z *Zone) Add(rrs ...dns.RR) {
	z.Records = append(z.Records, rrs...)
}

// Validate reports whether the zone can be served as given: an origin that
// is a domain name other than the root, records with owners at or below it
// in class IN whose rdata packs, an SOA only at the apex, no CNAME beside
// other data (RFC 1034 §3.6.2, RFC 2181 §10.1), no DNSSEC records (the
// server makes its own), Insecure names strictly below the origin and
// without a CNAME (a zone apex has SOA and NS), Bogus RRsets in the signed
// part of the zone, and a known Mode. Its errors wrap [ErrBadZone] or
// [ErrOutsideZone].
func (z *Zone) Validate() error {
	origin := dns.CanonicalName(z.Origin)
	if _, ok := dns.IsDomainName(origin); !ok || z.Origin == "" {
		return fmt.Errorf("dnslab: zone origin %q: not a domain name: %w", z.Origin, ErrBadZone)
	}
	// The root's NS is the resolver probe the server answers for every
	// zone; a lab zone at the root would make that answer ambiguous.
	if origin == "." {
		return fmt.Errorf("dnslab: zone origin %q: the root cannot be the lab zone: %w", z.Origin, ErrBadZone)
	}
	if _, err := ParseMode(string(z.Mode)); err != nil {
		return fmt.Errorf("dnslab: zone %s: %w: %w", origin, err, ErrBadZone)
	}
	cnames := map[string]bool{} // owners with a CNAME
	others := map[string]bool{} // owners with data other than CNAME
	for i, rr := range z.Records {
		if rr == nil {
			return fmt.Errorf("dnslab: zone %s: records[%d] is nil: %w", origin, i, ErrBadZone)
		}
		h := rr.Header()
		owner := dns.CanonicalName(h.Name)
		if !dns.IsSubDomain(origin, owner) {
			return fmt.Errorf("dnslab: zone %s: records[%d] %q: owner %s: %w", origin, i, rr.String(), h.Name, ErrOutsideZone)
		}
		if h.Class != dns.ClassINET {
			return fmt.Errorf("dnslab: zone %s: records[%d] %q: class %s, want IN: %w", origin, i, rr.String(), dns.Class(h.Class), ErrBadZone)
		}
		if err := packs(rr); err != nil {
			return fmt.Errorf("dnslab: zone %s: records[%d] %q: %w: %w", origin, i, rr.String(), err, ErrBadZone)
		}
		if isDNSSECType(h.Rrtype) {
			// The server signs the zone with its Keys (dnssec.go);
			// records of the zone's own would be served beside, and
			// contradict, the ones it makes.
			return fmt.Errorf("dnslab: zone %s: records[%d] %q: DNSSEC records are the server's own: %w", origin, i, rr.String(), ErrBadZone)
		}
		switch h.Rrtype {
		case dns.TypeSOA:
			if owner != origin {
				return fmt.Errorf("dnslab: zone %s: records[%d] %q: SOA away from the apex: %w", origin, i, rr.String(), ErrBadZone)
			}
		case dns.TypeCNAME:
			if cnames[owner] {
				return fmt.Errorf("dnslab: zone %s: records[%d] %q: second CNAME at %s (RFC 2181 §10.1): %w", origin, i, rr.String(), owner, ErrBadZone)
			}
			cnames[owner] = true
		default:
			others[owner] = true
		}
		if cnames[owner] && others[owner] {
			return fmt.Errorf("dnslab: zone %s: records[%d] %q: CNAME and other data at %s (RFC 1034 §3.6.2): %w", origin, i, rr.String(), owner, ErrBadZone)
		}
	}
	// The apex always has SOA and NS, synthesized if need be.
	if cnames[origin] {
		return fmt.Errorf("dnslab: zone %s: CNAME at the apex, beside its SOA and NS (RFC 1034 §3.6.2): %w", origin, ErrBadZone)
	}
	for i, name := range z.Insecure {
		if _, ok := dns.IsDomainName(name); !ok {
			return fmt.Errorf("dnslab: zone %s: insecure[%d] %q: not a domain name: %w", origin, i, name, ErrBadZone)
		}
		name = dns.CanonicalName(name)
		if !dns.IsSubDomain(origin, name) {
			return fmt.Errorf("dnslab: zone %s: insecure[%d] %q: %w", origin, i, name, ErrOutsideZone)
		}
		if name == origin {
			return fmt.Errorf("dnslab: zone %s: insecure[%d] %q: the apex cannot be delegated; an insecure name is a child zone's apex: %w", origin, i, name, ErrBadZone)
		}
		if cnames[name] {
			return fmt.Errorf("dnslab: zone %s: insecure[%d] %q: a CNAME at a child zone's apex, beside its SOA and NS (RFC 1034 §3.6.2): %w", origin, i, name, ErrBadZone)
		}
	}
	for i, b := range z.Bogus {
		name := dns.CanonicalName(b.Name)
		if _, ok := dns.IsDomainName(name); !ok || b.Name == "" {
			return fmt.Errorf("dnslab: zone %s: bogus[%d] %q: not a domain name: %w", origin, i, b.Name, ErrBadZone)
		}
		if !dns.IsSubDomain(origin, name) {
			return fmt.Errorf("dnslab: zone %s: bogus[%d] %s %s: %w", origin, i, b.Name, dns.Type(b.Type), ErrOutsideZone)
		}
		if slices.ContainsFunc(z.Insecure, func(ins string) bool { return dns.IsSubDomain(dns.CanonicalName(ins), name) }) {
			return fmt.Errorf("dnslab: zone %s: bogus[%d] %s %s: in an unsigned child zone, which has no signature to break: %w", origin, i, b.Name, dns.Type(b.Type), ErrBadZone)
		}
	}
	return nil
}

// packs returns the error packing rr to wire format fails with, if any.
// miekg's parser takes some rdata only packing rejects (TLSA data that is
// not hex), and a record that does not pack would fail every answer that
// holds it, so such a record is refused up front.
func packs(rr dns.RR) error {
	buf := make([]byte, dns.Len(rr)+16)
	_, err := dns.PackRR(dns.Copy(rr), buf, 0, nil, false) // a copy: PackRR sets Rdlength
	return err
}

// node is one name of the compiled zone. An empty non-terminal is a node
// without records: it exists (RFC 4592 §2.2.2) but holds nothing.
type node struct {
	rrs []dns.RR
	// sigs are the RRSIGs over the node's RRsets, by type covered; none
	// in an unsigned child zone (RFC 4035 §2.2).
	sigs map[uint16][]dns.RR
	// nsec is the node's NSEC and its RRSIG (RFC 4035 §2.3); nil for an
	// empty non-terminal and for names of an unsigned child zone.
	nsec []dns.RR
	// bogus holds the types whose RRSIGs were broken (Zone.Bogus).
	bogus map[uint16]bool
}

// index is a Zone compiled for lookups: names are canonical (RFC 4034 §6.2),
// so matching is case-insensitive as RFC 1034 §3.1 requires, and every
// ancestor of an owner up to the origin exists as a node. The zone is
// signed (dnssec.go) except below its insecure delegations, whose child
// zones it holds too.
type index struct {
	origin string
	ttl    uint32
	mode   Mode
	names  map[string]*node
	soa    *dns.SOA // the apex SOA, copied into negative answers
	// cuts maps each insecure delegation's name (the child zone's apex)
	// to the child's SOA.
	cuts map[string]*dns.SOA
	// chain holds the signed zone's names in canonical order (RFC 4034
	// §6.1), the order of its NSEC chain, to find the NSEC covering a
	// name that does not exist.
	chain []chainLink
}

// compile builds the index of a snapshot of z and signs it. It fails only
// when signing does (keys that cannot sign); otherwise records outside the
// origin are left out (no query can reach them, names outside the zone are
// refused), the SOA, the apex NS and the NS's address are synthesized when
// the records lack them, each insecure delegation gets a child SOA and NS,
// and duplicate records are dropped (an RRset has no duplicates, RFC 2181
// §5).
func compile(z *Zone) (*index, error) {
	ix := &index{
		origin: dns.CanonicalName(z.Origin),
		ttl:    z.TTL,
		mode:   z.Mode,
		names:  map[string]*node{},
		cuts:   map[string]*dns.SOA{},
	}
	if ix.mode == "" {
		ix.mode = ModeAD
	}
	for _, rr := range z.Records {
		if rr == nil {
			continue
		}
		owner := dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(ix.origin, owner) || isDNSSECType(rr.Header().Rrtype) {
			continue
		}
		ix.add(owner, dns.Copy(rr))
	}

	apex := ix.names[ix.origin]
	if apex == nil {
		apex = &node{}
		ix.names[ix.origin] = apex
	}
	ns := "ns." + ix.origin
	if ix.origin == "." {
		ns = "ns."
	}
	if soa := find(apex.rrs, dns.TypeSOA); soa != nil {
		ix.soa = soa.(*dns.SOA)
	} else {
		ix.soa = ix.newSOA(ix.origin, ns)
		// The SOA comes first at the apex, as in a zone file.
		apex.rrs = append([]dns.RR{ix.soa}, apex.rrs...)
	}
	if find(apex.rrs, dns.TypeNS) == nil {
		ix.add(ix.origin, ix.newNS(ix.origin, ns))
		if n := ix.names[ns]; n == nil || find(n.rrs, dns.TypeA) == nil {
			ix.add(ns, &dns.A{
				Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: z.TTL},
				A:   []byte{127, 0, 0, 1},
			})
		}
	}
	// Each insecure delegation is a child zone served by this same
	// server (its NS is the lab's), with its own SOA at its apex. Parents
	// first, so that a name below another insecure name is just part of
	// that unsigned child, not a zone of its own.
	insecure := make([]string, 0, len(z.Insecure))
	for _, name := range z.Insecure {
		name = dns.CanonicalName(name)
		if name != ix.origin && dns.IsSubDomain(ix.origin, name) {
			insecure = append(insecure, name)
		}
	}
	slices.SortFunc(insecure, func(a, b string) int { return dns.CountLabel(a) - dns.CountLabel(b) })
	for _, name := range insecure {
		if ix.zoneOf(name) != ix.origin {
			continue // inside a child already: unsigned anyway
		}
		n := ix.names[name]
		if n == nil || find(n.rrs, dns.TypeNS) == nil {
			ix.add(name, ix.newNS(name, ns))
			n = ix.names[name]
		}
		soa := ix.newSOA(name, ns)
		n.rrs = append([]dns.RR{soa}, n.rrs...)
		ix.cuts[name] = soa
	}
	if err := ix.sign(z); err != nil {
		return nil, err
	}
	return ix, nil
}

// newSOA returns the synthesized SOA of the zone at apex.
func (ix *index) newSOA(apex, ns string) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ix.ttl},
		Ns:      ns,
		Mbox:    "hostmaster." + apex,
		Serial:  soaSerial,
		Refresh: 3600,
		Retry:   900,
		Expire:  604800,
		// RFC 2308 §4: the SOA minimum is the TTL of negative
		// answers; the lab's names live as long as its records.
		Minttl: ix.ttl,
	}
}

// newNS returns the NS record of the zone at apex, naming the lab's server.
func (ix *index) newNS(apex, ns string) *dns.NS {
	return &dns.NS{
		Hdr: dns.RR_Header{Name: apex, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ix.ttl},
		Ns:  ns,
	}
}

// zoneOf returns the apex of the zone that holds the canonical name: the
// deepest insecure delegation at or above it, else the origin.
func (ix *index) zoneOf(name string) string {
	zone := ix.origin
	for cut := range ix.cuts {
		if dns.IsSubDomain(cut, name) && dns.CountLabel(cut) > dns.CountLabel(zone) {
			zone = cut
		}
	}
	return zone
}

// isDNSSECType reports whether t is a record type the server makes itself
// when it signs the zone (Zone.Validate refuses them in Records).
func isDNSSECType(t uint16) bool {
	switch t {
	case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM, dns.TypeDNSKEY, dns.TypeDS, dns.TypeCDS, dns.TypeCDNSKEY:
		return true
	}
	return false
}

// add puts rr at owner (canonical, inside the zone) and creates the empty
// non-terminals between owner and the origin.
func (ix *index) add(owner string, rr dns.RR) {
	n := ix.names[owner]
	if n == nil {
		n = &node{}
		ix.names[owner] = n
	}
	for _, have := range n.rrs {
		if dns.IsDuplicate(have, rr) {
			return
		}
	}
	n.rrs = append(n.rrs, rr)
	for name := parent(owner); name != "" && dns.IsSubDomain(ix.origin, name); name = parent(name) {
		if ix.names[name] != nil {
			break // its ancestors were created with it
		}
		ix.names[name] = &node{}
	}
}

// parent returns name without its first label, or "" for the root.
func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return ""
	}
	return name[off:]
}

// find returns the first record of type t in rrs, or nil.
func find(rrs []dns.RR, t uint16) dns.RR {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return rr
		}
	}
	return nil
}
