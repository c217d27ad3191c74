// Package sender is the paired client: it delivers a test message the way
// one sender profile would, records every step, and says what happened and
// what that sender's user would be told.
//
// One attempt, in order (Send):
//  1. MX lookup, noting whether the answer was authenticated (AD);
//  2. TLSA lookup where the profile does DANE (lookupTLSA);
//  3. a probing connection first, where the profile's real TLS stack offers
//     anonymous suites Go cannot negotiate (probeAnonymous);
//  4. TCP connect, banner, EHLO;
//  5. STARTTLS and the handshake with the profile's SNI and versions;
//  6. verification: PKIX against the given roots, DANE per RFC 7672;
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
