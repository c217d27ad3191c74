package dnslab

import (
	"errors"
	"fmt"

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
// a snapshot: changing a Zone afterwards does not change what a running
// server answers.
type Zone struct {
	// Origin is the zone's apex as a fully qualified name, e.g. "mxlab.test.".
	Origin string
	// TTL is put on the records the server synthesizes (SOA, NS, the NS's
	// address, the ". NS" probe answer); Records carry their own TTL.
	TTL uint32
	// Records are all the zone's records; an owner "*.<name>" is a wildcard
	// with RFC 4592 semantics.
	Records []dns.RR
	// Insecure lists owner names at or below which answers carry no AD bit
	// (an unsigned part of the zone).
	Insecure []string
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
// other data (RFC 1034 §3.6.2, RFC 2181 §10.1), and Insecure names inside
// the zone. Its errors wrap [ErrBadZone] or [ErrOutsideZone].
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
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
			// DNSSEC records may sit beside a CNAME (RFC 4035 §2.5).
			continue
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
		if !dns.IsSubDomain(origin, dns.CanonicalName(name)) {
			return fmt.Errorf("dnslab: zone %s: insecure[%d] %q: %w", origin, i, name, ErrOutsideZone)
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
}

// index is a Zone compiled for lookups: names are canonical (RFC 4034 §6.2),
// so matching is case-insensitive as RFC 1034 §3.1 requires, and every
// ancestor of an owner up to the origin exists as a node.
type index struct {
	origin   string
	ttl      uint32
	names    map[string]*node
	soa      *dns.SOA // the apex SOA, copied into negative answers
	insecure []string
}

// compile builds the index of a snapshot of z. It never fails: records
// outside the origin are left out (no query can reach them, names outside the
// zone are refused), the SOA, the apex NS and the NS's address are
// synthesized when the records lack them, and duplicate records are dropped
// (an RRset has no duplicates, RFC 2181 §5).
func compile(z *Zone) *index {
	ix := &index{
		origin: dns.CanonicalName(z.Origin),
		ttl:    z.TTL,
		names:  map[string]*node{},
	}
	for _, name := range z.Insecure {
		ix.insecure = append(ix.insecure, dns.CanonicalName(name))
	}
	for _, rr := range z.Records {
		if rr == nil {
			continue
		}
		owner := dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(ix.origin, owner) {
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
		ix.soa = &dns.SOA{
			Hdr:     dns.RR_Header{Name: ix.origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: z.TTL},
			Ns:      ns,
			Mbox:    "hostmaster." + ix.origin,
			Serial:  soaSerial,
			Refresh: 3600,
			Retry:   900,
			Expire:  604800,
			// RFC 2308 §4: the SOA minimum is the TTL of negative
			// answers; the lab's names live as long as its records.
			Minttl: z.TTL,
		}
		// The SOA comes first at the apex, as in a zone file.
		apex.rrs = append([]dns.RR{ix.soa}, apex.rrs...)
	}
	if find(apex.rrs, dns.TypeNS) == nil {
		ix.add(ix.origin, &dns.NS{
			Hdr: dns.RR_Header{Name: ix.origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: z.TTL},
			Ns:  ns,
		})
		if n := ix.names[ns]; n == nil || find(n.rrs, dns.TypeA) == nil {
			ix.add(ns, &dns.A{
				Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: z.TTL},
				A:   []byte{127, 0, 0, 1},
			})
		}
	}
	return ix
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
