package dane

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mxlab/mxlab/certs"
)

// maxChain bounds how many presented certificates DANE-TA path building
// looks at, so that a hostile server cannot make it check signatures
// between every pair of a huge chain. Real MX chains have two to four.
const maxChain = 16

// Verify checks the chain a server presented (leaf first, as sent) against
// the TLSA records looked up for it, per steps 2 to 9 of the package
// documentation, and says whether it is authenticated.
//
// recs are all the records of the secure TLSA RRset, unusable ones
// included: Verify applies Usable itself. names are the reference
// identifiers for DANE-TA name checks: the MX host name (the TLSA base
// domain) and, if different, the next-hop domain (RFC 7672 §3.2.2). now is
// when DANE-TA validity dates are checked; the zero time means time.Now.
//
// DANE-TA path building looks at the first 16 presented certificates only.
//
// A failed Result's Reason is ReasonNoUsableRecords (then the client uses
// TLS unauthenticated, RFC 7672 §2.2), ReasonNoCertificate, ReasonNoMatch,
// ReasonTABadChain, ReasonTAExpired or ReasonTANameMismatch.
func Verify(chain []*x509.Certificate, recs []Record, names []string, now time.Time) Result {
	if now.IsZero() {
		now = time.Now()
	}
	idx, dropped := usableIndexes(recs)
	if len(idx) == 0 {
		detail := "no TLSA records were given"
		if len(recs) > 0 {
			detail = fmt.Sprintf("none of the %d TLSA records is usable, so TLS is mandatory but the server is not authenticated (RFC 7672 §2.2)", len(recs))
		}
		return Result{Reason: ReasonNoUsableRecords, Detail: detail, Dropped: dropped}
	}
	idx, weaker := strongestDigests(recs, idx)
	dropped = append(dropped, weaker...)
	sortDropped(dropped)
	res := Result{Dropped: dropped}

	if len(chain) == 0 {
		res.Reason, res.Detail = ReasonNoCertificate, "the server presented no certificate, so no TLSA record can match"
		return res
	}
	if i := slices.Index(chain, nil); i >= 0 {
		res.Reason, res.Detail = ReasonNoCertificate, fmt.Sprintf("certificate %d of the presented chain is missing", i)
		return res
	}

	var worst failure
	var misses []string
	for _, i := range idx {
		r := recs[i]
		var m *Match
		var f failure
		switch r.Usage {
		case certs.UsageDANEEE:
			m, f = matchEE(chain[0], r)
		case certs.UsageDANETA:
			m, f = verifyTA(chain, r, names, now)
		}
		if m != nil {
			m.Index = i
			res.Verified, res.Matched, res.Detail = true, m, f.detail
			return res
		}
		if f.reason == ReasonNoMatch {
			misses = append(misses, f.detail)
		}
		if worst.reason == "" || f.reason.rank() > worst.reason.rank() {
			worst = f
		}
	}
	res.Reason, res.Detail = worst.reason, worst.detail
	if worst.reason == ReasonNoMatch {
		res.Detail = noMatchDetail(misses, len(weaker))
	}
	return res
}

// failure is one record's verdict: a reason and its sentence. On success
// the sentence says what was checked.
type failure struct {
	reason Reason
	detail string
}

func noMatchDetail(misses []string, weaker int) string {
	const shown = 3
	s := "no usable TLSA record matches the server's chain: " + strings.Join(misses[:min(len(misses), shown)], "; ")
	if len(misses) > shown {
		s += fmt.Sprintf("; and %d more", len(misses)-shown)
	}
	if weaker > 0 {
		s += fmt.Sprintf("; %d record(s) with a weaker digest were set aside (RFC 7671 §9)", weaker)
	}
	return s
}

// matchEE is step 4: a DANE-EE(3) record matches the leaf or nothing.
// Names and dates are not checked (RFC 7672 §3.1.1, RFC 7671 §5.1): an
// expired, self-signed or misnamed leaf passes when its key is published.
func matchEE(leaf *x509.Certificate, r Record) (*Match, failure) {
	if matches(leaf, r) {
		return &Match{Record: r, Depth: 0}, failure{detail: fmt.Sprintf(
			"the leaf matches DANE-EE record %s (names and dates are not checked for DANE-EE, RFC 7672 §3.1.1)", brief(r))}
	}
	have, _ := certs.AssociationData(leaf, r.Selector, r.Matching)
	return nil, failure{ReasonNoMatch, fmt.Sprintf("DANE-EE record %s does not match the leaf, whose %d %d %d data is %s",
		brief(r), r.Usage, r.Selector, r.Matching, shortHex(have))}
}

// verifyTA is steps 5 to 8: a DANE-TA(2) record names a trust anchor,
// which must issue the leaf (through the presented intermediates), be
// valid with them, and the leaf must carry a reference identifier.
func verifyTA(chain []*x509.Certificate, r Record, names []string, now time.Time) (*Match, failure) {
	chain = chain[:min(len(chain), maxChain)]

	// Step 5, the anchor. OpenSSL, whose DANE code Postfix uses, matches
	// DANE-TA records only above the leaf; the leaf is DANE-EE's.
	presented := make([]bool, len(chain))
	found := false
	for d := 1; d < len(chain); d++ {
		if matches(chain[d], r) {
			presented[d], found = true, true
		}
	}
	// Only when no presented certificate is the anchor may a Full(0)
	// record's own certificate or key stand in for it (RFC 7671 §5.2.3).
	var fromRecord *anchor
	if !found && r.Matching == certs.MatchFull {
		if a, err := parseFull(r); err == nil {
			fromRecord = &a
		}
	}
	if !found && fromRecord == nil {
		sent := fmt.Sprintf("none of the %d certificate(s) above the leaf", len(chain)-1)
		if len(chain) == 1 {
			sent = "nothing: the server sent only its leaf"
		}
		return nil, failure{ReasonNoMatch, fmt.Sprintf(
			"DANE-TA record %s matches %s, and a digest cannot stand in for a trust anchor the server did not send (RFC 7672 §3.1.2, RFC 7671 §5.2.2)",
			brief(r), sent)}
	}

	// Step 6, the chain.
	p, err := pathTo(chain, presented, fromRecord)
	if errors.Is(err, errNoAnchor) {
		carried := "public key"
		if fromRecord.cert != nil {
			carried = "certificate"
		}
		return nil, failure{ReasonNoMatch, fmt.Sprintf(
			"DANE-TA record %s matches no presented certificate, and the %s it carries issued none of them", brief(r), carried)}
	}
	if err != nil {
		return nil, failure{ReasonTABadChain, fmt.Sprintf("DANE-TA record %s: %v", brief(r), err)}
	}

	// Step 7, the dates (RFC 7672 §3.1.2: unlike DANE-EE, DANE-TA chains
	// expire).
	if err := checkDates(p.certs, now); err != nil {
		return nil, failure{ReasonTAExpired, fmt.Sprintf("DANE-TA record %s: %v", brief(r), err)}
	}

	// Step 8, the names.
	name, ok := matchNames(chain[0], names)
	if !ok {
		return nil, failure{ReasonTANameMismatch, nameMismatchDetail(r, chain[0], names)}
	}
	m := &Match{Record: r, Depth: p.anchorDepth, FromRecord: p.fromRecord, Name: name}
	how := "sent by the server"
	if p.fromRecord {
		how = "carried by the record, not sent by the server (RFC 7671 §5.2.2, §5.2.3)"
	}
	return m, failure{detail: fmt.Sprintf(
		"the leaf chains to the trust anchor of DANE-TA record %s at depth %d, %s; the chain is valid at %s and the leaf names %s",
		brief(r), p.anchorDepth, how, now.UTC().Format(time.RFC3339), name)}
}

func nameMismatchDetail(r Record, leaf *x509.Certificate, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("DANE-TA record %s: the chain is valid, but no reference identifiers were given to check the leaf's names against", brief(r))
	}
	return fmt.Sprintf("DANE-TA record %s: the chain is valid, but the leaf's names %v match none of the reference identifiers %v (RFC 7672 §3.2.2)",
		brief(r), presentedIDs(leaf), names)
}

// errNoAnchor means no presented certificate is the trust anchor nor
// issued by the one a Full(0) record carries: the record matched nothing.
var errNoAnchor = errors.New("dane: no trust anchor")

// taPath is a validated path from the leaf to a trust anchor.
type taPath struct {
	// certs runs from the leaf to the anchor, the anchor included when it
	// is a certificate; a bare public key from a "2 1 0" record is not.
	certs []*x509.Certificate
	// anchorDepth is the anchor's position: len(certs)-1, or len(certs)
	// for a bare key.
	anchorDepth int
	// fromRecord is set when the anchor came from the record.
	fromRecord bool
}

// pathTo is step 6: it finds the shortest chain from the leaf (chain[0])
// up to a trust anchor through the presented certificates, in any order,
// since TLS 1.3 servers may send them unordered and with extras
// (RFC 8446 §4.4.2). An anchor is a presented certificate marked in
// presented, or the certificate or key a Full(0) record carries
// (fromRecord), which then ends the path above the certificate it signed.
// Each link must carry the issuer's name and signature, and each issuer
// must be a CA allowed to sign certificates (x509.CheckSignatureFrom);
// path length constraints are checked on the path found.
func pathTo(chain []*x509.Certificate, presented []bool, fromRecord *anchor) (taPath, error) {
	// signedByRecord reports whether the record's anchor issued c. A
	// certificate holding the anchor's own key is the anchor, not issued
	// by it: the leaf cannot be its own trust anchor.
	signedByRecord := func(c *x509.Certificate) bool {
		if fromRecord == nil || samePublicKey(c.PublicKey, fromRecord.key) {
			return false
		}
		if fromRecord.cert != nil {
			return bytes.Equal(c.RawIssuer, fromRecord.cert.RawSubject) && c.CheckSignatureFrom(fromRecord.cert) == nil
		}
		// A bare key checks the signature itself; like CheckSignatureFrom,
		// refuse SHA-1, which Certificate.CheckSignature would accept.
		switch c.SignatureAlgorithm {
		case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
			return false
		}
		return (&x509.Certificate{PublicKey: fromRecord.key}).CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	}
	terminal := make([]bool, len(chain))
	byRecord := make([]bool, len(chain))
	anyTerminal := false
	for i, c := range chain {
		byRecord[i] = !presented[i] && signedByRecord(c)
		terminal[i] = presented[i] || byRecord[i]
		anyTerminal = anyTerminal || terminal[i]
	}
	if !anyTerminal {
		return taPath{}, errNoAnchor
	}

	// Breadth-first from the leaf: each certificate is visited once, so
	// at most len(chain)² signatures are checked.
	prev := make([]int, len(chain))
	for i := range prev {
		prev[i] = -1
	}
	visited := make([]bool, len(chain))
	visited[0] = true
	queue := []int{0}
	end := -1
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		if terminal[i] {
			end = i
			break
		}
		for j := 1; j < len(chain); j++ {
			if visited[j] {
				continue
			}
			c, issuer := chain[i], chain[j]
			if bytes.Equal(c.RawIssuer, issuer.RawSubject) && c.CheckSignatureFrom(issuer) == nil {
				visited[j], prev[j] = true, i
				queue = append(queue, j)
			}
		}
	}
	if end < 0 {
		return taPath{}, noPathError(chain, presented, fromRecord)
	}

	var nodes []int
	for i := end; i >= 0; i = prev[i] {
		nodes = append(nodes, i)
	}
	slices.Reverse(nodes)
	p := taPath{}
	for _, i := range nodes {
		p.certs = append(p.certs, chain[i])
	}
	p.anchorDepth = len(p.certs) - 1
	if byRecord[end] {
		p.fromRecord = true
		p.anchorDepth = len(p.certs)
		if fromRecord.cert != nil {
			p.certs = append(p.certs, fromRecord.cert)
		}
	}
	// RFC 5280 §4.2.1.9: a CA's pathLenConstraint bounds the intermediate
	// CAs below it (the leaf is not one).
	for k := 2; k < len(p.certs); k++ {
		c := p.certs[k]
		if c.BasicConstraintsValid && c.MaxPathLen >= 0 && (c.MaxPathLen > 0 || c.MaxPathLenZero) && k-1 > c.MaxPathLen {
			return taPath{}, fmt.Errorf("certificate at depth %d (%s) allows %d intermediate CA(s) below it, the chain has %d",
				k, c.Subject, c.MaxPathLen, k-1)
		}
	}
	return p, nil
}

// noPathError explains why the leaf does not chain to any anchor.
func noPathError(chain []*x509.Certificate, presented []bool, fromRecord *anchor) error {
	leaf := chain[0]
	var subjects []string
	for d, c := range chain {
		if presented[d] {
			if bytes.Equal(leaf.RawIssuer, c.RawSubject) {
				return fmt.Errorf("the leaf names the trust anchor at depth %d (%s) as its issuer, but does not verify against it: %v", d, c.Subject, leaf.CheckSignatureFrom(c))
			}
			subjects = append(subjects, c.Subject.String())
		}
	}
	if fromRecord != nil && fromRecord.cert != nil {
		subjects = append(subjects, fromRecord.cert.Subject.String())
	} else if fromRecord != nil {
		subjects = append(subjects, "the record's public key")
	}
	return fmt.Errorf("no chain from the leaf (issued by %s) to the trust anchor (%s) through the %d presented certificate(s)",
		leaf.Issuer, strings.Join(subjects, ", "), len(chain))
}

// checkDates is step 7: every certificate of the path, the anchor's
// included, must be valid at now (RFC 5280 §4.1.2.5: both ends inclusive).
func checkDates(path []*x509.Certificate, now time.Time) error {
	for d, c := range path {
		if now.Before(c.NotBefore) {
			return fmt.Errorf("the certificate at depth %d (%s) is not valid before %s (checked at %s)",
				d, c.Subject, c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if now.After(c.NotAfter) {
			return fmt.Errorf("the certificate at depth %d (%s) expired at %s (checked at %s)",
				d, c.Subject, c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// brief renders a record for a sentence: "3 1 1 4cf0…", long data cut.
func brief(r Record) string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.Matching, shortHex(hex.EncodeToString(r.Data)))
}

// shortHex cuts hex longer than a SHA2-512 digest (a Full(0) record's
// certificate or key) so that sentences stay readable; digests are shown
// whole, so that they can be compared.
func shortHex(h string) string {
	const keep = 2 * 64
	if len(h) <= keep {
		return h
	}
	return h[:keep] + "…"
}
