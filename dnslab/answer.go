package dnslab

import "github.com/miekg/dns"

// maxChain bounds the CNAMEs followed for one query. Real resolvers stop
// somewhere between 8 and 16; the lab's chains are one link long.
const maxChain = 8

// result is the zone's answer to one question, before it becomes a message.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR // the SOA of a negative answer (RFC 2308 §3), and NSEC proofs with DO
	// secure is false when a name the answer went through is in an
	// unsigned child zone (Zone.Insecure): AD is then not set (RFC 4035
	// §3.2.3 sets AD only when every RRset of the answer is authentic).
	secure bool
	// bogus is true when the answer holds an RRset whose signature was
	// broken (Zone.Bogus): a validating resolver answers SERVFAIL.
	bogus bool
}

// inZone reports whether the canonical name is at or below the origin.
func (ix *index) inZone(name string) bool {
	return dns.IsSubDomain(ix.origin, name)
}

// match is where a name was found: its node, or the wildcard's node for
// an answer synthesized from a wildcard (RFC 4592 §3.3.1).
type match struct {
	node *node
	// owner is the name as the client spelled it, which owns the records
	// of the answer.
	owner string
	// wildcard is true for a synthesized answer.
	wildcard bool
}

// resolve answers qname/qtype from the zone, following RFC 1034 §4.3.2 step
// 3 for an authoritative server whose delegations it serves itself:
//
//   - a. the name exists: its records of qtype (all of them for ANY), or
//     its CNAME, followed while the target stays inside the zone (RFC 1034
//     §3.6.2; the RCODE is then the last name's, RFC 6604 §2.1), or NODATA;
//   - b. the name is at or below an insecure delegation: the child zone,
//     which the server also holds, answers, except for DS at the
//     delegation point, which is the parent's (RFC 4035 §3.1.4.1);
//   - c. the name does not exist: the wildcard at the closest encloser
//     answers in its place (RFC 4592 §3.3.1), else NXDOMAIN.
//
// With do (the query's DO bit) answers from the signed zone carry their
// RRSIGs (RFC 4035 §3.1.1), and negative and wildcard answers the NSEC
// records that prove them (RFC 4035 §3.1.3, denial.go).
//
// qname must be inside the zone.
func (ix *index) resolve(qname string, qtype uint16, do bool) result {
	res := result{rcode: dns.RcodeSuccess, secure: true}
	name := qname
	seen := map[string]bool{}
	for range maxChain {
		key := dns.CanonicalName(name)
		if !ix.inZone(key) {
			// A CNAME that leaves the zone ends the answer here: the
			// client follows it on its own (RFC 1034 §4.3.2 step 3a).
			return res
		}
		seen[key] = true
		if ix.cuts[key] != nil && (qtype == dns.TypeDS || qtype == dns.TypeNSEC) {
			// The DS of a delegation lives in the parent (RFC 4035
			// §3.1.4.1), and so does the NSEC at the delegation
			// point (RFC 4035 §2.3), which proves there is no DS
			// (RFC 4035 §5.2): an insecure delegation.
			n := ix.names[key]
			if qtype == dns.TypeNSEC {
				res.answer = match{node: n, owner: name}.records(qtype, do)
				return res
			}
			res.ns = ix.negative(ix.origin, do)
			if do {
				res.ns = append(res.ns, n.nsec...)
			}
			return res
		}
		zone := ix.zoneOf(key)
		signed := do && zone == ix.origin
		if zone != ix.origin {
			res.secure = false
		}
		m, exists := ix.lookup(key, name)
		if !exists {
			res.rcode = dns.RcodeNameError
			res.ns = ix.negative(zone, do)
			if signed {
				res.ns = append(res.ns, ix.nxdomainProof(key)...)
			}
			return res
		}
		if qtype == dns.TypeANY {
			rrs := m.records(qtype, signed)
			if len(rrs) == 0 {
				res.ns = ix.negative(zone, do)
				if signed {
					res.ns = append(res.ns, ix.nodataProof(m, key)...)
				}
			} else if signed && m.wildcard {
				res.ns = append(res.ns, ix.covering(key)...)
			}
			res.answer = append(res.answer, rrs...)
			res.bogus = res.bogus || len(m.node.bogus) > 0
			return res
		}
		if match := m.records(qtype, signed); len(match) > 0 {
			res.answer = append(res.answer, match...)
			res.bogus = res.bogus || m.node.bogus[qtype]
			if signed && m.wildcard {
				// RFC 4035 §3.1.3.3: a wildcard answer proves that
				// no closer name exists.
				res.ns = append(res.ns, ix.covering(key)...)
			}
			return res
		}
		cname := m.records(dns.TypeCNAME, signed)
		if len(cname) == 0 || qtype == dns.TypeCNAME {
			res.ns = ix.negative(zone, do)
			if signed {
				res.ns = append(res.ns, ix.nodataProof(m, key)...)
			}
			return res
		}
		res.answer = append(res.answer, cname...)
		res.bogus = res.bogus || m.node.bogus[dns.TypeCNAME]
		if signed && m.wildcard {
			res.ns = append(res.ns, ix.covering(key)...)
		}
		target := cname[0].(*dns.CNAME).Target
		if seen[dns.CanonicalName(target)] {
			return res // a loop: the chain so far is all there is
		}
		name = target
	}
	return res
}

// records returns the match's RRset of type t, owned by the asked name,
// followed with sigs by its RRSIGs; all RRsets for ANY. An explicit NSEC
// query gets the name's NSEC, an RRSIG query every RRSIG at the name (RFC
// 4035 §3.1.5 leaves the choice to the server).
func (m match) records(t uint16, sigs bool) []dns.RR {
	n := m.node
	var out []dns.RR
	switch t {
	case dns.TypeANY:
		out = append(out, n.rrs...)
		if sigs {
			for _, set := range rrsets(n.rrs) {
				out = append(out, n.sigs[set[0].Header().Rrtype]...)
			}
			if !m.wildcard {
				out = append(out, n.nsec...)
			}
		}
	case dns.TypeNSEC:
		if m.wildcard || len(n.nsec) == 0 {
			return nil
		}
		out = append(out, n.nsec[0])
		if sigs {
			out = append(out, n.nsec[1:]...)
		}
	case dns.TypeRRSIG:
		for _, set := range rrsets(n.rrs) {
			out = append(out, n.sigs[set[0].Header().Rrtype]...)
		}
		if !m.wildcard && len(n.nsec) > 1 {
			out = append(out, n.nsec[1:]...)
		}
	default:
		out = ofType(n.rrs, t)
		if len(out) > 0 && sigs {
			out = append(out, n.sigs[t]...)
		}
	}
	if m.wildcard {
		// RFC 4592 §3.3.1: the synthesized records, and their RRSIGs
		// (whose labels field still counts the wildcard's labels, RFC
		// 4035 §5.3.4), are owned by the name asked.
		for i, rr := range out {
			out[i] = dns.Copy(rr)
			out[i].Header().Name = m.owner
		}
	}
	return out
}

// lookup returns where the name (canonical key) is found and whether it
// exists, directly, as an empty non-terminal, or through a wildcard.
// Records synthesized from a wildcard are owned by asked, the name as the
// client spelled it (RFC 4592 §3.3.1).
//
// A wildcard applies only when the name does not exist: never to an
// existing name nor to an empty non-terminal, and only the wildcard that is
// a child of the closest encloser (RFC 4592 §2.2.1, §3.3.1). So with
// "*.sni-reject" and "_dc-mx.7c74f8d3197f.sni-reject" in the zone,
// "x.y.sni-reject" is synthesized, "7c74f8d3197f.sni-reject" is NODATA, and
// "x.7c74f8d3197f.sni-reject" is NXDOMAIN.
func (ix *index) lookup(key, asked string) (match, bool) {
	if n := ix.names[key]; n != nil {
		return match{node: n, owner: asked}, true
	}
	encloser := ix.closestEncloser(key)
	wild := ix.names["*."+encloser]
	if wild == nil {
		return match{}, false
	}
	return match{node: wild, owner: asked, wildcard: true}, true
}

// closestEncloser returns the longest existing ancestor of the canonical
// name key (RFC 4592 §3.3.1). The origin always exists, so for a name in
// the zone the walk ends at the origin at the latest.
func (ix *index) closestEncloser(key string) string {
	for name := parent(key); name != ""; name = parent(name) {
		if ix.names[name] != nil {
			return name
		}
	}
	return "."
}

// negative returns the authority section of a negative answer from the
// zone at apex: its SOA with the TTL RFC 2308 §3 asks for, the smaller of
// the SOA's TTL and its MINIMUM field, and with do its RRSIG (RFC 4035
// §3.1.3).
func (ix *index) negative(apex string, do bool) []dns.RR {
	src := ix.soa
	if cut := ix.cuts[apex]; cut != nil {
		src = cut
	}
	soa := dns.Copy(src).(*dns.SOA)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	out := []dns.RR{soa}
	if do {
		for _, rr := range ix.names[apex].sigs[dns.TypeSOA] {
			sig := dns.Copy(rr)
			sig.Header().Ttl = soa.Hdr.Ttl
			out = append(out, sig)
		}
	}
	return out
}

// ofType returns the records of rrs with type t.
func ofType(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}
