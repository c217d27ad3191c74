package tlsrpt

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
)

// FromAttempts is the report a sender would send about its attempts
// (RFC 8460 §4), from org (organization-name) with contact
// (contact-info) for start to end (converted to UTC, whole seconds).
// Attempts are grouped by recipient domain (the policy domain) and the
// policy that applied (appliedPolicy); a real sender sends each domain
// its own report (to the domain's rua), this one holds every domain the
// attempts went to, one "policies" entry each. A domain where no attempt
// counted (below) gets no entry.
//
// Each attempt counts once, as one of:
//   - a failure (total-failure-session-count, and a failure-details
//     entry) when its reason has an RFC 8460 result type
//     (result.Reason.RFC8460: a TLS alert is validation-failure with the
//     alert as failure-reason-code, "alert 47 (illegal_parameter)"), or
//     when the sender carried on past a TLS failure to deliver without
//     TLS, or carried on past one under a policy (tlsa, sts);
//   - a success (total-successful-session-count) when the message went
//     over TLS: RFC 8460 §4.2.1 counts TLS "policy-compliant", and with
//     no policy any TLS complies, even when an opportunistic sender
//     ignored the certificate;
//   - neither, when the attempt ended for a reason RFC 8460 has no type
//     for (DNS of the domain, TCP, a timeout, SMTP replies, see
//     docs/tlsrpt.md), or delivered in plaintext without having tried
//     TLS: these are not TLS sessions (RFC 8460 §4.3.4 leaves transient
//     network failures out), and counting them as either would make a
//     report claim TLS results nobody measured.
//
// sending-mta-ip is left out: the sender's report does not record the
// local address of its connection.
func FromAttempts(org, contact string, start, end time.Time, reps []*sender.Report) *Report {
	rep := &Report{
		OrganizationName: org,
		ContactInfo:      contact,
		DateRange:        DateRange{Start: start.UTC().Truncate(time.Second), End: end.UTC().Truncate(time.Second)},
		Policies:         []PolicyResult{},
	}
	type key struct {
		domain string
		typ    PolicyType
	}
	groups := map[key]*PolicyResult{}
	var order []key
	for _, a := range reps {
		if a == nil {
			continue
		}
		pol := appliedPolicy(a)
		k := key{pol.Domain, pol.Type}
		g, ok := groups[k]
		if !ok {
			g = &PolicyResult{Policy: pol}
			groups[k] = g
			order = append(order, k)
		}
		mergePolicy(&g.Policy, pol)
		switch c := classify(a, pol.Type); c.count {
		case success:
			g.Summary.TotalSuccessful++
		case failure:
			g.Summary.TotalFailure++
			fd := receiving(a)
			fd.ResultType, fd.FailureReasonCode, fd.FailedSessionCount = c.resultType, c.reasonCode, 1
			addFailure(g, fd)
		}
	}
	slices.SortFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.domain, b.domain), cmp.Compare(a.typ, b.typ))
	})
	for _, k := range order {
		g := groups[k]
		if g.Summary == (Summary{}) {
			continue // no TLS session to speak of
		}
		slices.SortFunc(g.FailureDetails, func(a, b FailureDetails) int {
			return cmp.Or(cmp.Compare(a.ResultType, b.ResultType), cmp.Compare(a.ReceivingMXHostname, b.ReceivingMXHostname),
				cmp.Compare(a.ReceivingIP, b.ReceivingIP), cmp.Compare(a.FailureReasonCode, b.FailureReasonCode))
		})
		rep.Policies = append(rep.Policies, *g)
	}
	rep.ReportID = reportID(rep)
	return rep
}

// reportID is unique per report (RFC 8460 §4.4 leaves the scheme to the
// author): the start of the range, as Google's ids begin, and a digest
// of everything else, so the same attempts give the same id.
func reportID(rep *Report) string {
	b, _ := json.Marshal(rep)
	sum := sha256.Sum256(b)
	return rep.DateRange.Start.Format(time.RFC3339) + "_" + hex.EncodeToString(sum[:8])
}

// addFailure counts a failure into the entry of the same type, host and
// reason code, or adds one.
func addFailure(g *PolicyResult, fd FailureDetails) {
	for i := range g.FailureDetails {
		e := &g.FailureDetails[i]
		if e.ResultType == fd.ResultType && e.ReceivingMXHostname == fd.ReceivingMXHostname && e.ReceivingIP == fd.ReceivingIP &&
			e.ReceivingMXHelo == fd.ReceivingMXHelo && e.FailureReasonCode == fd.FailureReasonCode {
			e.FailedSessionCount += fd.FailedSessionCount
			return
		}
	}
	g.FailureDetails = append(g.FailureDetails, fd)
}

// mergePolicy adds the policy strings and MX hosts of another attempt
// under the same policy (a domain's MX hosts each have their TLSA RRset).
func mergePolicy(into *Policy, p Policy) {
	for _, s := range p.String {
		if !slices.Contains(into.String, s) {
			into.String = append(into.String, s)
		}
	}
	for _, h := range p.MXHost {
		if !slices.Contains(into.MXHost, h) {
			into.MXHost = append(into.MXHost, h)
		}
	}
}

// PolicyFunc says which policy a sender applied to an attempt, ok false
// when this kind of policy did not apply.
type PolicyFunc func(a *sender.Report) (p Policy, ok bool)

// policyFuncs are asked in order; the first that finds a policy wins,
// and an attempt none claims is no-policy-found. DANE comes first: a
// sender that does both applies DANE where TLSA records exist and
// MTA-STS only where they do not (RFC 8461 §2).
var policyFuncs = []PolicyFunc{TLSAPolicy, STSPolicy}

// appliedPolicy is the policy of an attempt, with its domain set.
func appliedPolicy(a *sender.Report) Policy {
	domain := strings.ToLower(a.To[strings.LastIndex(a.To, "@")+1:])
	for _, f := range policyFuncs {
		if p, ok := f(a); ok {
			p.Domain = domain
			return p
		}
	}
	return Policy{Type: PolicyNone, Domain: domain}
}

// TLSAPolicy is the DANE policy of an attempt: its TLSA lookup found
// usable, authenticated records (RFC 7672 §2.2), whose RDATA is the
// policy string (RFC 8460 §4.5), or the lookup failed for a host of an
// authenticated MX answer, which ends a DANE sender's attempt as
// dnssec-invalid (RFC 7672 §2.1.1) and so is a DANE policy failure.
func TLSAPolicy(a *sender.Report) (Policy, bool) {
	d := a.DANE
	applied := d.LookedUp && d.Authenticated && d.Usable > 0 || a.Reason == result.DNSSECInvalid
	if !applied {
		return Policy{}, false
	}
	p := Policy{Type: PolicyTLSA, String: slices.Clone(d.Records)}
	if mx, _ := receivingHost(a); mx != "" {
		p.MXHost = MXHosts{mx}
	}
	return p, true
}

// STSPolicy is the MTA-STS policy of an attempt (RFC 8461): the policy
// it applied, fetched or cached, whose lines are the policy string and
// whose mx patterns are mx-host (RFC 8460 §4.5); or a policy the
// _mta-sts record announced and the sender could not fetch or use, which
// RFC 8460 reports under sts as sts-policy-fetch-error and the like
// (§4.3.2.2), as Mail.ru's reports do (testdata/README.md).
func STSPolicy(a *sender.Report) (Policy, bool) {
	s := a.STS
	switch {
	case len(s.Policy) > 0 && s.Mode != sender.STSNone:
		return Policy{Type: PolicySTS, String: slices.Clone(s.Policy), MXHost: MXHosts(slices.Clone(s.MX))}, true
	case s.FetchFailure != "":
		return Policy{Type: PolicySTS}, true
	}
	return Policy{}, false
}

// How an attempt counts (FromAttempts).
type counted int

const (
	neither counted = iota
	success
	failure
)

// verdict is how an attempt counts, with the result type and reason code
// of a failure.
type verdict struct {
	count      counted
	resultType ResultType
	reasonCode string
}

// classify says how an attempt counts under a policy type.
func classify(a *sender.Report, pol PolicyType) verdict {
	if a.Reason == result.ConnectionLost && a.TLS == nil {
		// Lost before any TLS was tried (no greeting: proxied-a): a
		// TCP or SMTP failure, which RFC 8460 §4.3 does not cover.
		return verdict{count: neither}
	}
	if t := a.Reason.RFC8460(); t != "" {
		return verdict{failure, ResultType(t), reasonCode(a, a.Reason)}
	}
	if pol == PolicySTS {
		// What failed the policy, enforced or only reported (testing
		// mode, RFC 8461 §5), or its fetch.
		for _, f := range []result.Reason{a.STS.FetchFailure, a.STS.Failure} {
			if f.RFC8460() != "" {
				return verdict{failure, ResultType(f.RFC8460()), reasonCode(a, f)}
			}
		}
	}
	carried := carriedOn(a)
	switch {
	case a.Outcome == result.DeliveredPlaintext && carried != "":
		// TLS failed and the sender went on without it.
		return verdict{failure, ResultType(carried.RFC8460()), reasonCode(a, carried)}
	case a.Outcome == result.Delivered && carried != "" && pol != PolicyNone:
		// A policy asked for what failed; the sender delivered anyway
		// (an MTA-STS policy in testing mode): report it (RFC 8461 §5).
		return verdict{failure, ResultType(carried.RFC8460()), reasonCode(a, carried)}
	case a.Outcome == result.Delivered:
		return verdict{count: success}
	}
	return verdict{count: neither}
}

// CountsAs says in words how FromAttempts counts an attempt that ended
// for reason r (docs/tlsrpt.md's table). Reasons of deliveries, which a
// sender may reach past a failure it tolerated, depend on that failure.
func CountsAs(r result.Reason) string {
	switch {
	case r == result.ConnectionLost:
		return "failure once a TLS handshake was tried; neither when lost before (no greeting)"
	case r.RFC8460() != "":
		return "failure"
	case r == "", r == result.DANEVerified, r == result.AnonymousTLS:
		return "success (delivered over TLS)"
	case r == result.Probe:
		return "success over TLS; plaintext: failure if TLS failed, else neither"
	}
	return "neither (not a TLS session)"
}

// carriedOn is the first TLS failure the sender carried on past: the
// sender writes "sender: <reason> -> <outcome>" for each reaction
// (sender.attempt.react), or, delivering in plaintext, the MX's EHLO
// did not offer STARTTLS (an opportunistic sender says nothing then).
// "" for none.
func carriedOn(a *sender.Report) result.Reason {
	for _, line := range a.Transcript {
		rest, ok := strings.CutPrefix(line, "sender: ")
		if !ok {
			continue
		}
		name, _, ok := strings.Cut(rest, " -> ")
		if !ok {
			continue
		}
		if r, err := result.ParseReason(name); err == nil && r.RFC8460() != "" {
			return r
		}
	}
	if a.Outcome == result.DeliveredPlaintext {
		for _, s := range a.Steps {
			if s["step"] != "ehlo" || s["tls"] == true || s["reconnect"] != nil {
				continue
			}
			if !slices.ContainsFunc(stringList(s["keywords"]), func(k string) bool {
				f := strings.Fields(k)
				return len(f) > 0 && strings.EqualFold(f[0], "STARTTLS")
			}) {
				return result.STARTTLSNotSupported
			}
			break
		}
	}
	return ""
}

// reasonCode is the failure-reason-code of a failure: the alert the MX
// sent, as RFC 8460 §4.3.1 asks for with validation-failure; DANE's
// detail for tlsa-invalid; mxlab's own name where it says more than the
// result type (starttls-refused, tls-handshake-failed).
func reasonCode(a *sender.Report, r result.Reason) string {
	switch {
	case a.TLS != nil && a.TLS.AlertReceived != nil && (r == result.TLSAlert || r.RFC8460() == string(ValidationFailure)):
		al := a.TLS.AlertReceived
		return fmt.Sprintf("alert %d (%s)", al.Code, al.Name)
	case r == result.TLSAInvalid && a.DANE.Detail != "":
		return a.DANE.Detail
	case string(r) != r.RFC8460():
		return string(r)
	}
	return ""
}

// receiving is the receiving side of an attempt from its steps: the MX
// host, the address connected to, the name in the greeting.
func receiving(a *sender.Report) FailureDetails {
	mx, ip := receivingHost(a)
	fd := FailureDetails{ReceivingMXHostname: mx, ReceivingIP: ip}
	for _, s := range a.Steps {
		if s["step"] != "banner" {
			continue
		}
		// "220 mx.example.com ESMTP …": RFC 5321 §4.2 puts the host's
		// name first; RFC 8460 §4.4 "receiving-mx-helo".
		reply, _ := s["reply"].(string)
		if f := strings.Fields(reply); len(f) > 1 && strings.HasPrefix(f[0], "220") {
			fd.ReceivingMXHelo = f[1]
		}
		break
	}
	return fd
}

// receivingHost is the MX host and its address: the "address" step's
// host and answer, else the "connect" step's address (a --server run).
func receivingHost(a *sender.Report) (mx, ip string) {
	for _, s := range a.Steps {
		switch s["step"] {
		case "address":
			mx, _ = s["host"].(string)
			if ans := stringList(s["answer"]); len(ans) > 0 && ip == "" {
				ip = ans[0]
			}
		case "connect":
			if addr, _ := s["addr"].(string); addr != "" {
				if host, _, err := net.SplitHostPort(addr); err == nil {
					ip = host
				}
			}
		}
	}
	if mx == "" {
		// No lookup of the host's address: the MX was an address, or
		// the MX answer is all there is.
		for _, s := range a.Steps {
			if s["step"] == "mx" {
				if ans := stringList(s["answer"]); len(ans) > 0 {
					mx = ans[0]
				}
			}
		}
	}
	return strings.TrimSuffix(mx, "."), ip
}

// stringList reads a step's list: []string as the sender builds it,
// []any once a report went through JSON.
func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
