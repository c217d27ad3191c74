package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/certs"
)

// Record is one TLSA record's RDATA (RFC 6698 §2.1) as looked up.
type Record struct {
	Usage, Selector, Matching uint8
	// Data is the certificate association data, raw bytes.
	Data []byte
}

// String renders the record as in a zone file: "3 1 1 ab12…", the data in
// lowercase hex.
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.Matching, hex.EncodeToString(r.Data))
}

// MarshalText makes a record one JSON string, as String renders it.
func (r Record) MarshalText() ([]byte, error) {
	return []byte(r.String()), nil
}

// Acronyms names the record's parameters with the RFC 7218 acronyms:
// "DANE-EE SPKI SHA2-256". Unknown values are shown as numbers.
func (r Record) Acronyms() string {
	return usageName(r.Usage) + " " + selectorName(r.Selector) + " " + matchingName(r.Matching)
}

func usageName(u uint8) string {
	switch u {
	case certs.UsagePKIXTA:
		return "PKIX-TA"
	case certs.UsagePKIXEE:
		return "PKIX-EE"
	case certs.UsageDANETA:
		return "DANE-TA"
	case certs.UsageDANEEE:
		return "DANE-EE"
	}
	return fmt.Sprintf("usage(%d)", u)
}

func selectorName(s uint8) string {
	switch s {
	case certs.SelectorCert:
		return "Cert"
	case certs.SelectorSPKI:
		return "SPKI"
	}
	return fmt.Sprintf("selector(%d)", s)
}

func matchingName(m uint8) string {
	switch m {
	case certs.MatchFull:
		return "Full"
	case certs.MatchSHA256:
		return "SHA2-256"
	case certs.MatchSHA512:
		return "SHA2-512"
	}
	return fmt.Sprintf("matching(%d)", m)
}

// FromRR converts TLSA RRs as miekg/dns returns them (the association data
// in hex) to records, in the same order. Parameters are not judged here
// (that is [Usable]'s work); a nil RR or data that is not hex is an error,
// which can only come from an RR built by hand, since miekg/dns writes the
// hex itself when it unpacks an answer.
func FromRR(rrs []*dns.TLSA) ([]Record, error) {
	out := make([]Record, 0, len(rrs))
	for i, rr := range rrs {
		if rr == nil {
			return nil, fmt.Errorf("dane: TLSA record %d is nil", i)
		}
		data, err := hex.DecodeString(rr.Certificate)
		if err != nil {
			return nil, fmt.Errorf("dane: TLSA record %d (%d %d %d): association data is not hex: %w",
				i, rr.Usage, rr.Selector, rr.MatchingType, err)
		}
		out = append(out, Record{Usage: rr.Usage, Selector: rr.Selector, Matching: rr.MatchingType, Data: data})
	}
	return out, nil
}

// DropReason says why a record was not used.
type DropReason string

// Why a record was not used. All but DropWeakerDigest make it unusable
// (RFC 6698 §4.1, RFC 7672 §3.1.3, RFC 7671 §9).
const (
	// DropPKIXUsage: usage PKIX-TA(0) or PKIX-EE(1), unusable for SMTP
	// (RFC 7672 §3.1.3): MTAs share no set of trusted CAs.
	DropPKIXUsage DropReason = "pkix-usage"
	// DropUnknownUsage: a usage above DANE-EE(3).
	DropUnknownUsage DropReason = "unknown-usage"
	// DropUnknownSelector: a selector other than Cert(0) and SPKI(1).
	DropUnknownSelector DropReason = "unknown-selector"
	// DropUnknownMatching: a matching type other than Full(0),
	// SHA2-256(1) and SHA2-512(2).
	DropUnknownMatching DropReason = "unknown-matching"
	// DropBadDigestLength: a digest whose length is not the algorithm's
	// (32 bytes for SHA2-256, 64 for SHA2-512); RFC 7671 §9 calls such
	// records malformed. OpenSSL, and so Postfix, refuses them too.
	DropBadDigestLength DropReason = "bad-digest-length"
	// DropMalformedData: Full(0) data that is not a DER certificate
	// (Cert) or SubjectPublicKeyInfo (SPKI).
	DropMalformedData DropReason = "malformed-data"
	// DropWeakerDigest: usable, but set aside by digest algorithm agility
	// (RFC 7671 §9) because a record with the same usage and selector has
	// a stronger digest. Only [Verify] reports it; [Usable] does not.
	DropWeakerDigest DropReason = "weaker-digest"
)

// Dropped is a record that was not used, and why.
type Dropped struct {
	// Index is the record's position in the records given.
	Index  int        `json:"index"`
	Record Record     `json:"record"`
	Reason DropReason `json:"reason"`
	// Detail says it in a sentence.
	Detail string `json:"detail"`
}

// Usable returns the records an SMTP client may authenticate the server
// with, in their order, and the ones it may not, each with its reason.
//
// A record is unusable when its usage is PKIX-TA(0) or PKIX-EE(1)
// (RFC 7672 §3.1.3), when its usage, selector or matching type is unknown
// (RFC 6698 §4.1), or when its data is malformed (RFC 7671 §9): a digest of
// the wrong length, or Full(0) data that does not parse.
//
// When records were found but none is usable, RFC 7672 §2.2 has the client
// use TLS without authenticating the server: TLS stays mandatory,
// cleartext is not an option.
func Usable(recs []Record) (usable []Record, dropped []Dropped) {
	idx, dropped := usableIndexes(recs)
	for _, i := range idx {
		usable = append(usable, recs[i])
	}
	return usable, dropped
}

// usableIndexes is Usable returning positions in recs, which Verify
// reports in Match.Index.
func usableIndexes(recs []Record) (idx []int, dropped []Dropped) {
	for i, r := range recs {
		if why, detail := unusable(r); why != "" {
			dropped = append(dropped, Dropped{Index: i, Record: r, Reason: why, Detail: detail})
			continue
		}
		idx = append(idx, i)
	}
	return idx, dropped
}

// unusable returns why r is unusable, or "" when it is usable. The checks
// go usage, selector, matching type, data, so a record is blamed for its
// first fault.
func unusable(r Record) (DropReason, string) {
	switch r.Usage {
	case certs.UsageDANETA, certs.UsageDANEEE:
	case certs.UsagePKIXTA, certs.UsagePKIXEE:
		return DropPKIXUsage, fmt.Sprintf("usage %s(%d) is unusable for SMTP (RFC 7672 §3.1.3)", usageName(r.Usage), r.Usage)
	default:
		return DropUnknownUsage, fmt.Sprintf("usage %d is unknown: want DANE-TA(2) or DANE-EE(3)", r.Usage)
	}
	switch r.Selector {
	case certs.SelectorCert, certs.SelectorSPKI:
	default:
		return DropUnknownSelector, fmt.Sprintf("selector %d is unknown: want Cert(0) or SPKI(1)", r.Selector)
	}
	switch r.Matching {
	case certs.MatchSHA256:
		if len(r.Data) != sha256.Size {
			return DropBadDigestLength, fmt.Sprintf("SHA2-256 data is %d bytes, want %d", len(r.Data), sha256.Size)
		}
	case certs.MatchSHA512:
		if len(r.Data) != sha512.Size {
			return DropBadDigestLength, fmt.Sprintf("SHA2-512 data is %d bytes, want %d", len(r.Data), sha512.Size)
		}
	case certs.MatchFull:
		if _, err := parseFull(r); err != nil {
			what := "certificate"
			if r.Selector == certs.SelectorSPKI {
				what = "SubjectPublicKeyInfo"
			}
			return DropMalformedData, fmt.Sprintf("Full(0) data is not a DER %s: %v", what, err)
		}
	default:
		return DropUnknownMatching, fmt.Sprintf("matching type %d is unknown: want Full(0), SHA2-256(1) or SHA2-512(2)", r.Matching)
	}
	return "", ""
}

// anchor is what a Full(0) record carries: a certificate (selector Cert)
// or a public key (selector SPKI). DANE-TA uses it when the server did not
// send its trust anchor (RFC 7671 §5.2.2, §5.2.3).
type anchor struct {
	cert *x509.Certificate
	key  any
}

// parseFull parses a Full(0) record's data, returning crypto/x509's error.
// Go's parsers refuse trailing bytes, as OpenSSL's DANE code does.
func parseFull(r Record) (anchor, error) {
	if r.Selector == certs.SelectorCert {
		c, err := x509.ParseCertificate(r.Data)
		if err != nil {
			return anchor{}, err
		}
		return anchor{cert: c, key: c.PublicKey}, nil
	}
	k, err := x509.ParsePKIXPublicKey(r.Data)
	if err != nil {
		return anchor{}, err
	}
	return anchor{key: k}, nil
}

// matches reports whether r's data is cert's association data for r's
// selector and matching type (RFC 6698 §2.1.2, §2.1.3), computed by the
// lab's TLSA code.
func matches(cert *x509.Certificate, r Record) bool {
	h, err := certs.AssociationData(cert, r.Selector, r.Matching)
	return err == nil && h == hex.EncodeToString(r.Data)
}

// digestStrength orders matching types for digest algorithm agility
// (RFC 7671 §9), strongest highest; Full(0) is not a digest and has none.
func digestStrength(m uint8) int {
	switch m {
	case certs.MatchSHA512:
		return 2
	case certs.MatchSHA256:
		return 1
	}
	return 0
}

// strongestDigests applies digest algorithm agility (RFC 7671 §9) to the
// usable records at idx: for each usage and selector, only the records
// with the strongest digest present are kept, with every Full(0) record.
// A server that publishes "3 1 1" and "3 1 2" is thus held to its
// SHA2-512 record, so that a broken SHA2-256 cannot be used to pass.
func strongestDigests(recs []Record, idx []int) (kept []int, dropped []Dropped) {
	type pair struct{ usage, selector uint8 }
	best := map[pair]uint8{} // the strongest digest's matching type
	for _, i := range idx {
		r := recs[i]
		p := pair{r.Usage, r.Selector}
		if digestStrength(r.Matching) > digestStrength(best[p]) {
			best[p] = r.Matching
		}
	}
	for _, i := range idx {
		r := recs[i]
		top := best[pair{r.Usage, r.Selector}]
		if s := digestStrength(r.Matching); s != 0 && s < digestStrength(top) {
			dropped = append(dropped, Dropped{Index: i, Record: r, Reason: DropWeakerDigest,
				Detail: fmt.Sprintf("%s is set aside: a %d %d %d record has a stronger digest (RFC 7671 §9)",
					matchingName(r.Matching), r.Usage, r.Selector, top)})
			continue
		}
		kept = append(kept, i)
	}
	return kept, dropped
}

// sortDropped orders dropped records by their position in the records.
func sortDropped(d []Dropped) {
	slices.SortStableFunc(d, func(a, b Dropped) int { return a.Index - b.Index })
}
