package dnslab

import (
	"slices"

	"github.com/miekg/dns"
)

// Authenticated denial of existence with NSEC (RFC 4035 §3.1.3, RFC 4034
// §4): the records a signed answer adds to its authority section to prove
// what is not there. Each function returns NSEC records each followed by
// its RRSIG, without duplicates; the callers add them only for a query
// with DO in the signed zone.

// covering returns the NSEC whose span covers the canonical name, which
// must not own records in the signed zone: the NSEC of the last name of
// the chain that sorts before it in canonical order (RFC 4034 §6.1),
// which points at the first one after it (or back at the apex). It proves
// no name lies between them: not the name itself (NXDOMAIN, RFC 4035
// §3.1.3.2), no closer match to a wildcard answer (§3.1.3.3), or, when
// the next name is below the name, that the name is an empty
// non-terminal (its NODATA proof, RFC 4035 §3.1.3.2 and RFC 6840 §4.3).
func (ix *index) covering(name string) []dns.RR {
	if len(ix.chain) == 0 {
		return nil
	}
	labels := canonicalLabels(name)
	i, _ := slices.BinarySearchFunc(ix.chain, labels, func(link chainLink, l [][]byte) int {
		return compareLabels(link.labels, l)
	})
	// i is the first link at or after the name; the one before covers it.
	// Before the first (the apex) there is nothing in the zone, so the
	// last link, which wraps around to the apex, covers it.
	prev := (i - 1 + len(ix.chain)) % len(ix.chain)
	return ix.chain[prev].node.nsec
}

// nxdomainProof returns the NSEC records of an NXDOMAIN answer (RFC 4035
// §3.1.3.2): one covering the name, proving it does not exist, and one
// covering the wildcard at its closest encloser, proving no wildcard could
// have answered instead (RFC 4592 §3.3.1). Often one NSEC does both.
func (ix *index) nxdomainProof(key string) []dns.RR {
	proof := ix.covering(key)
	wild := ix.covering("*." + ix.closestEncloser(key))
	return appendNew(proof, wild)
}

// nodataProof returns the NSEC records of a NODATA answer for the name at
// m (key canonical):
//   - a name that owns records: its own NSEC, whose type bitmap lacks the
//     type asked (RFC 4035 §3.1.3.1);
//   - an empty non-terminal: the NSEC covering it, whose next name lies
//     below it (RFC 4035 §3.1.3.2; RFC 6840 §4.3 asks validators to check
//     just that);
//   - a name answered by a wildcard that lacks the type: the NSEC covering
//     the name, proving no closer match, and the wildcard's own NSEC,
//     proving the type absent there (RFC 4035 §3.1.3.4).
func (ix *index) nodataProof(m match, key string) []dns.RR {
	switch {
	case m.wildcard:
		return appendNew(ix.covering(key), m.node.nsec)
	case len(m.node.nsec) > 0:
		return m.node.nsec
	default:
		return ix.covering(key)
	}
}

// appendNew appends to a those records of b that a lacks (the same NSEC
// can prove two things; an answer carries it once, RFC 2181 §5).
func appendNew(a, b []dns.RR) []dns.RR {
	out := slices.Clone(a)
	for _, rr := range b {
		if !slices.ContainsFunc(out, func(have dns.RR) bool { return have == rr }) {
			out = append(out, rr)
		}
	}
	return out
}
