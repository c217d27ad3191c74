// Package result names how a delivery attempt ends and why, for every
// part of mxlab that speaks of it: sender profiles (what a sender does on
// each failure), scenario expectations (what each sender is expected to
// do), the sender's report and the matrix. A value a YAML file names is
// checked against these lists when the file loads, so a typo fails there
// and not as a divergent matrix cell.
//
// Reasons use RFC 8460's result types (§4.3) wherever one fits, so that a
// sender's reason maps to a TLS-RPT report without translation; the rest
// are mxlab's own names for failures TLS-RPT does not cover (DNS, TCP,
// SMTP replies).
package result

import (
	"fmt"
	"slices"
)

// Outcome is how an attempt ends (docs/contracts.md, the sender's report).
type Outcome string

// Outcomes.
const (
	// Delivered: the message was accepted over TLS.
	Delivered Outcome = "delivered"
	// DeliveredPlaintext: the message was accepted without TLS.
	DeliveredPlaintext Outcome = "delivered-plaintext"
	// Deferred: the sender keeps the message and tries again later.
	Deferred Outcome = "deferred"
	// Bounced: the sender gives up and tells its user.
	Bounced Outcome = "bounced"
)

// Outcomes lists every outcome, in the order of the contract.
var Outcomes = []Outcome{Delivered, DeliveredPlaintext, Deferred, Bounced}

// IsDelivery reports whether the outcome is a delivery, over TLS or not.
func (o Outcome) IsDelivery() bool { return o == Delivered || o == DeliveredPlaintext }

// Reason says why an attempt ended as it did. The failures (Failures) are
// also the keys of a profile's reactions; the others only describe a
// successful or special ending.
type Reason string

// Failures, in the order a delivery meets them. Each is a key of a
// profile's `on:` map: every profile says what it does on each.
const (
	// DNSNXDomain: the domain or the MX host does not exist.
	DNSNXDomain Reason = "dns-nxdomain"
	// DNSServfail: a DNS lookup failed (SERVFAIL, no answer).
	DNSServfail Reason = "dns-servfail"
	// ConnectRefused: nothing listens at the MX's address (TCP RST).
	ConnectRefused Reason = "connect-refused"
	// Timeout: the MX did not answer in time (connect, greeting, reply).
	Timeout Reason = "timeout"
	// ConnectionLost: the MX closed or reset the connection in the
	// middle of the dialogue: before its greeting (an address where
	// nothing speaks SMTP, scenario proxied-a) or after "220 Ready to
	// start TLS" (drop-after-220). Postfix logs "lost connection".
	ConnectionLost Reason = "connection-lost"
	// STARTTLSNotSupported: EHLO does not list STARTTLS (RFC 8460
	// starttls-not-supported).
	STARTTLSNotSupported Reason = "starttls-not-supported"
	// STARTTLSRefused: STARTTLS was offered but answered with an error
	// such as "454 4.7.0 TLS not available due to local problem" (RFC
	// 3207 §4); RFC 8460 files it under starttls-not-supported.
	STARTTLSRefused Reason = "starttls-refused"
	// TLSAlert: the MX ended the handshake with a TLS alert; RFC 8460
	// files it under validation-failure with the alert in
	// failure-reason-code.
	TLSAlert Reason = "tls-alert"
	// HandshakeFailed: the handshake ended without an alert from the
	// MX: the connection closed or was reset after "220 Ready to start
	// TLS" or mid-handshake. Postfix logs it as it logs an alert
	// ("Cannot start TLS: handshake failure", smtp_proto.c).
	HandshakeFailed Reason = "tls-handshake-failed"
	// CertificateExpired: the certificate is outside its validity
	// window (RFC 8460 certificate-expired).
	CertificateExpired Reason = "certificate-expired"
	// CertificateNotTrusted: no chain to a trusted root (self-signed,
	// missing intermediate, unknown CA); RFC 8460 certificate-not-trusted.
	CertificateNotTrusted Reason = "certificate-not-trusted"
	// CertificateHostMismatch: the certificate names other hosts (RFC
	// 8460 certificate-host-mismatch).
	CertificateHostMismatch Reason = "certificate-host-mismatch"
	// DNSSECInvalid: the TLSA lookup for a host of an authenticated MX
	// answer failed (a validating resolver's SERVFAIL for bogus
	// signatures): a DANE sender must defer, RFC 7672 §2.1.1 (RFC 8460
	// dnssec-invalid).
	DNSSECInvalid Reason = "dnssec-invalid"
	// TLSAInvalid: authenticated TLSA records match nothing the server
	// presents (RFC 8460 tlsa-invalid).
	TLSAInvalid Reason = "tlsa-invalid"
	// Rejected: the MX refused the message with a 5xx reply.
	Rejected Reason = "rejected"

	// The MTA-STS failures (RFC 8461). A sender that does MTA-STS meets
	// the first three while discovering the recipient domain's policy;
	// without a cached policy each leaves the domain without one (RFC
	// 8461 §3.3), so the sender carries on as it would for a domain
	// that publishes none. The fourth ends the attempt under a policy in
	// enforce mode (§5).

	// STSPolicyFetchError: the _mta-sts TXT record names a policy that
	// could not be fetched: no policy host, a connection or HTTP error,
	// a status other than 200, a redirect, a body over the size bound,
	// a timeout (RFC 8461 §3.3; RFC 8460 sts-policy-fetch-error).
	STSPolicyFetchError Reason = "sts-policy-fetch-error"
	// STSPolicyInvalid: the policy was fetched but is not a valid
	// STSv1 policy (RFC 8461 §3.2; RFC 8460 sts-policy-invalid).
	STSPolicyInvalid Reason = "sts-policy-invalid"
	// STSWebPKIInvalid: the policy host's certificate is not PKIX-valid
	// for mta-sts.<domain> (RFC 8461 §3.3; RFC 8460 sts-webpki-invalid).
	STSWebPKIInvalid Reason = "sts-webpki-invalid"
	// STSMXMismatch: a policy in enforce mode lists no mx pattern that
	// matches the MX host (RFC 8461 §4.1), so the sender must not
	// deliver there (§5). RFC 8460 has no result type of its own for
	// it: it is a validation-failure (§4.3.2.3), which mox also reports
	// with failure-reason-code "mtasts-policy-mx-mismatch".
	STSMXMismatch Reason = "sts-mx-mismatch"
)

// Failures lists the failures, in the order a delivery meets them.
var Failures = []Reason{DNSNXDomain, DNSServfail, DNSSECInvalid, STSPolicyFetchError, STSPolicyInvalid, STSWebPKIInvalid, STSMXMismatch,
	ConnectRefused, Timeout, ConnectionLost, STARTTLSNotSupported, STARTTLSRefused,
	TLSAlert, HandshakeFailed, CertificateExpired, CertificateNotTrusted, CertificateHostMismatch, TLSAInvalid, Rejected}

// Reasons that are not failures a profile reacts to.
const (
	// DANEVerified: delivered over TLS authenticated by TLSA records.
	DANEVerified Reason = "dane-verified"
	// AnonymousTLS: delivered over an anonymous suite the sender's real
	// TLS stack would have negotiated (Go's cannot).
	AnonymousTLS Reason = "anonymous-tls"
	// RejectedTemporarily: the MX answered a command with a 4xx reply.
	RejectedTemporarily Reason = "rejected-temporarily"
	// Probe: a probe stopped before MAIL FROM.
	Probe Reason = "probe"
)

// Reasons lists every reason: the failures, then the others.
var Reasons = append(append([]Reason(nil), Failures...), DANEVerified, AnonymousTLS, RejectedTemporarily, Probe)

// IsFailure reports whether r is a failure a profile reacts to.
func (r Reason) IsFailure() bool { return slices.Contains(Failures, r) }

// RFC8460 is the TLS-RPT result type (RFC 8460 §4.3) a failure maps to,
// or "" for failures TLS-RPT does not report (DNS of the MX itself, TCP,
// SMTP replies). An MX that an MTA-STS policy does not list is a
// validation-failure too (RFC 8460 has no type for it). A TLS alert is a
// validation-failure: RFC 8460 §4.3.2.3
// keeps that type for "a general failure for a reason not matching a
// category above".
func (r Reason) RFC8460() string {
	switch r {
	case STARTTLSNotSupported, CertificateExpired, CertificateNotTrusted, CertificateHostMismatch, TLSAInvalid, DNSSECInvalid,
		STSPolicyFetchError, STSPolicyInvalid, STSWebPKIInvalid:
		return string(r)
	case STARTTLSRefused:
		return string(STARTTLSNotSupported)
	case TLSAlert, HandshakeFailed, ConnectionLost, STSMXMismatch:
		return "validation-failure"
	}
	return ""
}

// ParseOutcome checks an outcome a file names.
func ParseOutcome(s string) (Outcome, error) {
	if o := Outcome(s); slices.Contains(Outcomes, o) {
		return o, nil
	}
	return "", fmt.Errorf("%q is not an outcome (want one of %v)", s, Outcomes)
}

// ParseReason checks a reason a file names.
func ParseReason(s string) (Reason, error) {
	if r := Reason(s); slices.Contains(Reasons, r) {
		return r, nil
	}
	return "", fmt.Errorf("%q is not a reason (want one of %v)", s, Reasons)
}

// ParseFailure checks a failure a file names.
func ParseFailure(s string) (Reason, error) {
	if r := Reason(s); slices.Contains(Failures, r) {
		return r, nil
	}
	return "", fmt.Errorf("%q is not a failure (want one of %v)", s, Failures)
}
