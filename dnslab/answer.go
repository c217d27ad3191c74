package dnslab

import "github.com/miekg/dns"

// maxChain bounds the CNAMEs followed for one query. Real resolvers stop
// somewhere between 8 and 16; the lab's chains are one link long.
const maxChain = 8

// result is the zone's answer to one question, before it becomes a message.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR // the SOA of a negative answer (RFC 2308 §3)
	// secure is false when a name the answer went through is at or below
	// one of the zone's Insecure owners: AD is then not set (RFC 4035
	// §3.2.3 sets AD only when every RRset of the answer is authentic).
	secure bool
}

// inZone reports whether the canonical name is at or below the origin.
func (ix *index) inZone(name string) bool {
	return dns.IsSubDomain(ix.origin, name)
}

// isInsecure reports whether the canonical name is at or below an Insecure
// owner.
func (ix *index) isInsecure(name string) bool {
	for _, owner := range ix.insecure {
		if dns.IsSubDomain(owner, name) {
			return true
		}
	}
	return false
}

// resolve answers qname/qtype from the zone, following RFC 1034 §4.3.2 step
// 3 for an authoritative server without delegations:
//
//   - a. the name exists: its records of qtype (all of them for ANY), or
//     its CNAME, followed while the target stays inside the zone (RFC 1034
//     §3.6.2; the RCODE is then the last name's, RFC 6604 §2.1), or NODATA;
//   - c. the name does not exist: the wildcard at the closest encloser
//     answers in its place (RFC 4592 §3.3.1), else NXDOMAIN.
//
// qname must be inside the zone.
func (ix *index) resolve(qname string, qtype uint16) result {
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
		if ix.isInsecure(key) {
			res.secure = false
		}
		rrs, exists := ix.lookup(key, name)
		if !exists {
			res.rcode = dns.RcodeNameError
			res.ns = ix.negative()
			return res
		}
		if qtype == dns.TypeANY {
			if len(rrs) == 0 {
				res.ns = ix.negative()
			}
			res.answer = append(res.answer, rrs...)
			return res
		}
		if match := ofType(rrs, qtype); len(match) > 0 {
			res.answer = append(res.answer, match...)
			return res
		}
		cname, _ := find(rrs, dns.TypeCNAME).(*dns.CNAME)
		if cname == nil || qtype == dns.TypeCNAME {
			res.ns = ix.negative()
			return res
		}
		res.answer = append(res.answer, cname)
		if seen[dns.CanonicalName(cname.Target)] {
			return res // a loop: the chain so far is all there is
		}
		name = cname.Target
	}
	return res
}

// lookup returns the records at name (canonical key) and whether the name
// exists, directly, as an empty non-terminal, or through a wildcard.
// Records synthesized from a wildcard are copies owned by asked, the name as
// the client spelled it (RFC 4592 §3.3.1).
//
// A wildcard applies only when the name does not exist: never to an
// existing name nor to an empty non-terminal, and only the wildcard that is
// a child of the closest encloser (RFC 4592 §2.2.1, §3.3.1). So with
// "*.sni-reject" and "_dc-mx.7c74f8d3197f.sni-reject" in the zone,
// "x.y.sni-reject" is synthesized, "7c74f8d3197f.sni-reject" is NODATA, and
// "x.7c74f8d3197f.sni-reject" is NXDOMAIN.
func (ix *index) lookup(key, asked string) ([]dns.RR, bool) {
	if n := ix.names[key]; n != nil {
		return n.rrs, true
	}
	encloser := ix.closestEncloser(key)
	wild := ix.names["*."+encloser]
	if wild == nil {
		return nil, false
	}
	rrs := make([]dns.RR, len(wild.rrs))
	for i, rr := range wild.rrs {
		rrs[i] = dns.Copy(rr)
		rrs[i].Header().Name = asked
	}
	return rrs, true
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

// negative returns the authority section of a negative answer: the zone's
// SOA with the TTL RFC 2308 §3 asks for, the smaller of the SOA's TTL and
// its MINIMUM field.
func (ix *index) negative() []dns.RR {
	soa := dns.Copy(ix.soa).(*dns.SOA)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return []dns.RR{soa}
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
