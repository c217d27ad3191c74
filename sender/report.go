// Package sender is the paired client: it delivers a test message the way
// one sender profile would, records every step, and says what happened and
// what that sender's user would be told.
//
// One attempt, in order (Send):
//  1. MX lookup, noting whether the answer was authenticated (AD);
//  2. TLSA lookup where the profile does DANE (lookupDANE), then the
//     MTA-STS policy and its MX check where it does MTA-STS (discoverSTS,
//     RFC 8461; mtasts.go);
//  3. a probing connection first, where the profile's real TLS stack offers
//     anonymous suites Go cannot negotiate (probeAnonymous);
//  4. TCP connect, banner, EHLO;
//  5. STARTTLS and the handshake with the profile's SNI and versions;
//  6. verification: PKIX against the given roots, DANE per RFC 7672, an
//     MTA-STS policy's certificate check (RFC 8461 §4.2);
//  7. the profile's reaction to what failed (profiles.Reaction), or the
//     delivery itself;
//  8. the outcome, its reason, what the sender does later, and its text.
package sender

import (
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/tlsalert"
)

// Report is the result of one attempt: `mxlab send --format json` prints
// it as is (docs/contracts.md, "The sender's report").
type Report struct {
	Profile    string           `json:"profile"`
	Scenario   string           `json:"scenario,omitempty"`
	To         string           `json:"to"`
	Outcome    result.Outcome   `json:"outcome"`
	Reason     result.Reason    `json:"reason"`
	Steps      []Step           `json:"steps"`
	TLS        *TLSReport       `json:"tls"`
	DANE       DANEReport       `json:"dane"`
	STS        STSReport        `json:"sts"`
	Later      []profiles.Later `json:"later"`
	Inferred   []Inference      `json:"inferred"`
	Transcript []string         `json:"transcript"`
	BounceText string           `json:"bounce_text"`
	// BounceTextSource says where BounceText comes from: measured or
	// documented (the sender's words), reconstructed (no evidence: not a
	// quote), or observed (what this attempt saw, in mxlab's words).
	BounceTextSource profiles.Provenance `json:"bounce_text_source"`
}

// Step is one recorded step; which fields are set depends on the step.
type Step map[string]any

// TLSReport is what the TLS handshake showed.
type TLSReport struct {
	// SNISent is the server name sent, nil for none.
	SNISent *string `json:"sni_sent"`
	Version *string `json:"version"`
	Cipher  *string `json:"cipher"`
	// Group is the key exchange group's IANA name, nil for none.
	Group            *string        `json:"group,omitempty"`
	AlertReceived    *tlsalert.JSON `json:"alert_received"`
	PeerCertificates []CertInfo     `json:"peer_certificates"`
	// PKIX is the chain's verdict against the trusted roots and the MX
	// name, whether or not the profile acts on it.
	PKIX string `json:"pkix,omitempty"`
}

// CertInfo describes one certificate of the peer's chain.
type CertInfo struct {
	Subject  string   `json:"subject"`
	Issuer   string   `json:"issuer"`
	DNSNames []string `json:"dns_names"`
	NotAfter string   `json:"not_after"`
	SPKI256  string   `json:"spki_sha256"`
}

// DANEReport is the DANE part of the attempt.
type DANEReport struct {
	LookedUp      bool     `json:"looked_up"`
	Owner         string   `json:"owner,omitempty"`
	Authenticated bool     `json:"authenticated,omitempty"`
	Records       []string `json:"records,omitempty"`
	Usable        int      `json:"usable,omitempty"`
	// Result is verified, failed, or why DANE did not apply.
	Result string `json:"result,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Inference is a step predicted rather than performed.
type Inference struct {
	Step string `json:"step"`
	What string `json:"what"`
	Why  string `json:"why"`
}

// STSReport is the MTA-STS part of the attempt (RFC 8461): what was
// discovered and how the policy was applied. It carries what an RFC 8460
// report needs: the policy's text and mx patterns, and the failure the
// policy met, whether enforced or only reported (testing).
type STSReport struct {
	// LookedUp: the profile does MTA-STS and the TXT record was asked
	// for.
	LookedUp bool `json:"looked_up"`
	// Domain is the policy domain, the recipient's.
	Domain string `json:"domain,omitempty"`
	// TXT is the _mta-sts record found and ID its id; TXTError says why
	// there is no usable record (a failed lookup, none, several, a
	// syntax error: RFC 8461 §3.1 leaves the domain without a policy).
	TXT      string `json:"txt,omitempty"`
	ID       string `json:"id,omitempty"`
	TXTError string `json:"txt_error,omitempty"`
	// URL is where the policy was fetched from, "" when it was not.
	URL string `json:"url,omitempty"`
	// Fetched: the policy was fetched and parsed by this attempt.
	Fetched bool `json:"fetched"`
	// FetchError says why the fetch failed, and FetchFailure what it
	// counts as: sts-policy-fetch-error, sts-policy-invalid or
	// sts-webpki-invalid (RFC 8460 §4.3.2.2).
	FetchError   string        `json:"fetch_error,omitempty"`
	FetchFailure result.Reason `json:"fetch_failure,omitempty"`
	// FromCache: the policy applied came from the sender's cache
	// (Options.STSCache), not from this attempt's fetch.
	FromCache bool `json:"from_cache,omitempty"`
	// Policy is the applied policy's text, one line each (RFC 8460
	// §4.4 policy-string); Mode, MX and MaxAge are its fields.
	Policy []string `json:"policy,omitempty"`
	Mode   STSMode  `json:"mode,omitempty"`
	MX     []string `json:"mx,omitempty"`
	MaxAge *int     `json:"max_age,omitempty"`
	// MXMatched says whether the MX host matches an mx pattern (RFC
	// 8461 §4.1), nil when no policy applied.
	MXMatched *bool `json:"mx_matched,omitempty"`
	// Certificate is the MX certificate's verdict under the policy (RFC
	// 8461 §4.2): trusted, expired, not-trusted or host-mismatch; ""
	// when no handshake completed under a policy.
	Certificate string `json:"certificate,omitempty"`
	// Failure is what failed the policy, enforced or only reported in
	// testing mode: sts-mx-mismatch, starttls-not-supported,
	// starttls-refused, tls-alert, tls-handshake-failed or a
	// certificate-* reason; "" when nothing did.
	Failure result.Reason `json:"failure,omitempty"`
	// Result says in words what became of MTA-STS in this attempt: no
	// policy, enforced, testing (reported only), or why it did not apply.
	Result string `json:"result,omitempty"`
}
