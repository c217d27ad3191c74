package tlsrpt

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Report is one aggregate report, in the JSON of RFC 8460 §4.4.
type Report struct {
	// OrganizationName is who is responsible for the report.
	OrganizationName string `json:"organization-name"`
	// DateRange is the time the report covers: a whole UTC day
	// (RFC 8460 §4.1).
	DateRange DateRange `json:"date-range"`
	// ContactInfo is an address for the report's responsible party.
	ContactInfo string `json:"contact-info"`
	// ReportID is unique per report; the scheme is the author's.
	ReportID string `json:"report-id"`
	// Policies has an entry per policy applied; always an array, even
	// for one policy (RFC 8460 §4).
	Policies []PolicyResult `json:"policies"`
}

// DateRange is the report's time span (RFC 8460 §4.4 "date-time", RFC
// 3339 §5.6).
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// PolicyResult is one entry of "policies": the policy, its counts and
// its failures.
type PolicyResult struct {
	Policy  Policy  `json:"policy"`
	Summary Summary `json:"summary"`
	// FailureDetails has an entry per result type, host and reason
	// code; absent when nothing failed, as Google's reports leave it.
	FailureDetails []FailureDetails `json:"failure-details,omitempty"`
}

// Policy is the policy a sender applied (RFC 8460 §4.4, §4.5).
type Policy struct {
	Type PolicyType `json:"policy-type"`
	// String is the policy as applied: the TLSA RRset, one RR's RDATA
	// per string ("3 1 1 ab12…"), or the MTA-STS policy's lines
	// (RFC 8460 §4.5). Absent for no-policy-found.
	String []string `json:"policy-string,omitempty"`
	// Domain is the policy domain: the recipient domain, as A-labels.
	Domain string `json:"policy-domain"`
	// MXHost is the pattern of MX hosts the policy names. RFC 8460 §4.4
	// calls it "a string" and its example (Appendix B) writes one; an
	// MTA-STS policy can name several, so reporters and errata 6241 use
	// an array. Read as either, written as an array.
	MXHost MXHosts `json:"mx-host,omitempty"`
}

// MXHosts is "mx-host": a JSON string or an array of strings.
type MXHosts []string

// UnmarshalJSON takes a string or an array of strings.
func (m *MXHosts) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*m = MXHosts{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("tlsrpt: mx-host: want a string or an array of strings: %w", err)
	}
	*m = many
	return nil
}

// PolicyType is the kind of policy applied (RFC 8460 §4.4 "policy-type").
type PolicyType string

// Policy types.
const (
	// PolicySTS: an MTA-STS policy (RFC 8461) applied.
	PolicySTS PolicyType = "sts"
	// PolicyTLSA: DANE TLSA records (RFC 7672) applied.
	PolicyTLSA PolicyType = "tlsa"
	// PolicyNone: neither policy was found.
	PolicyNone PolicyType = "no-policy-found"
)

// PolicyTypes lists the policy types, for checks.
var PolicyTypes = []PolicyType{PolicySTS, PolicyTLSA, PolicyNone}

// Summary is the policy's session counts (RFC 8460 §4.2).
type Summary struct {
	// TotalSuccessful counts sessions that negotiated TLS as the policy
	// asks (§4.2.1).
	TotalSuccessful int64 `json:"total-successful-session-count"`
	// TotalFailure counts sessions that did not (§4.2.2).
	TotalFailure int64 `json:"total-failure-session-count"`
}

// FailureDetails is one kind of failure at one receiving host (RFC 8460
// §4.4). Only ResultType and FailedSessionCount are always present.
type FailureDetails struct {
	ResultType ResultType `json:"result-type"`
	// SendingMTAIP is the sender's own address.
	SendingMTAIP string `json:"sending-mta-ip,omitempty"`
	// ReceivingMXHostname is the MX host the sender tried.
	ReceivingMXHostname string `json:"receiving-mx-hostname,omitempty"`
	// ReceivingMXHelo is the name in the MX's greeting (optional).
	ReceivingMXHelo string `json:"receiving-mx-helo,omitempty"`
	// ReceivingIP is the address the sender connected to.
	ReceivingIP        string `json:"receiving-ip,omitempty"`
	FailedSessionCount int64  `json:"failed-session-count"`
	// AdditionalInformation is a URI with more (optional).
	AdditionalInformation string `json:"additional-information,omitempty"`
	// FailureReasonCode is the TLS error in the reporter's words; RFC
	// 8460 §4.3.1 asks for one with validation-failure and
	// certificate-not-trusted. Here: "alert 47 (illegal_parameter)".
	FailureReasonCode string `json:"failure-reason-code,omitempty"`
}

// ResultType is why a session failed (RFC 8460 §4.3; the IANA registry
// "STARTTLS Validation Result Types", §6.6).
type ResultType string

// Result types.
const (
	// Negotiation failures (§4.3.1).
	STARTTLSNotSupported    ResultType = "starttls-not-supported"
	CertificateHostMismatch ResultType = "certificate-host-mismatch"
	CertificateExpired      ResultType = "certificate-expired"
	CertificateNotTrusted   ResultType = "certificate-not-trusted"
	ValidationFailure       ResultType = "validation-failure"
	// DANE policy failures (§4.3.2.1).
	TLSAInvalid   ResultType = "tlsa-invalid"
	DNSSECInvalid ResultType = "dnssec-invalid"
	DANERequired  ResultType = "dane-required"
	// MTA-STS policy failures (§4.3.2.2).
	STSPolicyFetchError ResultType = "sts-policy-fetch-error"
	STSPolicyInvalid    ResultType = "sts-policy-invalid"
	STSWebPKIInvalid    ResultType = "sts-webpki-invalid"
)

// ResultTypes lists every result type of RFC 8460 §4.3.
var ResultTypes = []ResultType{
	STARTTLSNotSupported, CertificateHostMismatch, CertificateExpired, CertificateNotTrusted, ValidationFailure,
	TLSAInvalid, DNSSECInvalid, DANERequired,
	STSPolicyFetchError, STSPolicyInvalid, STSWebPKIInvalid,
}

// Known reports whether t is a result type of RFC 8460 §4.3.
func (t ResultType) Known() bool { return slices.Contains(ResultTypes, t) }
