package dane

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/mxlab/mxlab/certs"
)

// Reason is why a chain was not authenticated: a stable code for tests,
// session records and the sender's report.
type Reason string

// The reasons Verify gives, in the order it checks them. A verified
// result has none.
const (
	// ReasonNoUsableRecords: records were found but none is usable
	// (Usable). Not a failure to defer on: RFC 7672 §2.2 has the client
	// use TLS without authenticating the server.
	ReasonNoUsableRecords Reason = "no-usable-records"
	// ReasonNoCertificate: the server presented no certificate, so
	// nothing can match (an anonymous cipher suite, or an empty chain).
	ReasonNoCertificate Reason = "no-certificate"
	// ReasonNoMatch: no usable record matches: no DANE-EE record matches
	// the leaf and no DANE-TA record matches a certificate of the chain
	// (or is a Full(0) anchor that signs it). Postfix logs
	// "num=65:no matching DANE TLSA records". The tlsa-mismatch scenario.
	ReasonNoMatch Reason = "no-match"
	// ReasonTABadChain: a DANE-TA trust anchor was found, but the leaf
	// does not chain to it through the presented certificates (issuer,
	// signature, CA constraints, path length).
	ReasonTABadChain Reason = "ta-bad-chain"
	// ReasonTAExpired: a DANE-TA chain is complete but a certificate on it
	// is outside its validity period at the time given: expired, or not
	// yet valid (RFC 7672 §3.1.2; DANE-EE never checks dates).
	ReasonTAExpired Reason = "ta-expired"
	// ReasonTANameMismatch: a DANE-TA chain is complete and valid, but the
	// leaf's names match none of the reference identifiers
	// (RFC 7672 §3.2.2). Postfix logs "num=62:hostname mismatch".
	ReasonTANameMismatch Reason = "ta-name-mismatch"
)

// reasons lists every Reason, for ParseReason.
var reasons = []Reason{ReasonNoUsableRecords, ReasonNoCertificate, ReasonNoMatch, ReasonTABadChain, ReasonTAExpired, ReasonTANameMismatch}

// ParseReason returns the Reason named s, for data files that expect one.
func ParseReason(s string) (Reason, error) {
	for _, r := range reasons {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(reasons))
	for i, r := range reasons {
		names[i] = string(r)
	}
	return "", fmt.Errorf("dane: unknown reason %q (want one of %s)", s, strings.Join(names, ", "))
}

// rank orders failures by how far verification got, so that Verify
// reports the most telling one when several records fail.
func (r Reason) rank() int {
	switch r {
	case ReasonTABadChain:
		return 1
	case ReasonTAExpired:
		return 2
	case ReasonTANameMismatch:
		return 3
	}
	return 0
}

// Match is the record that authenticated the server.
type Match struct {
	// Index is the record's position in the records given to Verify.
	Index  int    `json:"index"`
	Record Record `json:"record"`
	// Depth is where the matched certificate sits in the validated chain,
	// the leaf being 0: always 0 for DANE-EE; the trust anchor's depth for
	// DANE-TA, one above the last presented certificate used when the
	// anchor came from the record (FromRecord).
	Depth int `json:"depth"`
	// FromRecord is set when the server did not send the trust anchor and
	// a "2 0 0" or "2 1 0" record stood in for it (RFC 7671 §5.2.2,
	// §5.2.3).
	FromRecord bool `json:"from_record,omitempty"`
	// Name is the reference identifier the leaf matched (DANE-TA only).
	Name string `json:"name,omitempty"`
}

// Result is what Verify found.
type Result struct {
	// Verified is true when a usable record authenticated the chain.
	Verified bool `json:"verified"`
	// Matched is the record that did, when Verified.
	Matched *Match `json:"matched,omitempty"`
	// Reason is why not, when not Verified.
	Reason Reason `json:"reason,omitempty"`
	// Detail says what was checked and what failed, in a sentence.
	Detail string `json:"detail"`
	// Dropped are the records not used: unusable ones, and ones set aside
	// by digest algorithm agility. Set whether or not Verified.
	Dropped []Dropped `json:"dropped,omitempty"`
}

// Postfix returns the line Postfix's SMTP client (and posttls-finger) logs
// for this result, with peer in its "host[address]:port" form, and false
// where the line has not been measured. The lines were captured with
// Postfix 3.7 and OpenSSL 3 (docs/interop-recipe.md §5, §6b, §7):
//
//	mx-good-dane.lab.test[127.1.3.1]:25: Matched DANE EE certificate at depth 0: 3 1 1 4CF0…
//	server certificate verification failed for mx-mismatch-dane.lab.test[127.1.3.2]:25: num=65:no matching DANE TLSA records
//	server certificate verification failed for …: num=62:hostname mismatch
//
// The EE line's data is the record's, in uppercase hex
// (docs/interop-recipe.md §7 shows it shortened; how Postfix shortens
// long data was not measured). The
// num=62 line was measured with posttls-finger; it is OpenSSL's hostname
// check failing, which is what a DANE-TA name mismatch is. A verified
// DANE-TA match, expired or broken chains, and the other reasons have no
// measured line.
func (r Result) Postfix(peer string) (string, bool) {
	switch {
	case r.Verified && r.Matched != nil && r.Matched.Record.Usage == certs.UsageDANEEE:
		m := r.Matched.Record
		return fmt.Sprintf("%s: Matched DANE EE certificate at depth 0: %d %d %d %s",
			peer, m.Usage, m.Selector, m.Matching, strings.ToUpper(hex.EncodeToString(m.Data))), true
	case r.Reason == ReasonNoMatch:
		return "server certificate verification failed for " + peer + ": num=65:no matching DANE TLSA records", true
	case r.Reason == ReasonTANameMismatch:
		return "server certificate verification failed for " + peer + ": num=62:hostname mismatch", true
	}
	return "", false
}
