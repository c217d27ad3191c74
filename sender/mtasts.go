package sender

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
)

// MTA-STS in an attempt (RFC 8461), for a profile with verify.mta_sts:
//
//  1. discoverSTS, once the MX is known: the _mta-sts TXT record (§3.1),
//     the cached policy if its id is unchanged, else the policy fetched
//     over HTTPS (§3.3, fetchPolicy). A failed fetch is the profile's
//     reaction to sts-policy-fetch-error, sts-policy-invalid or
//     sts-webpki-invalid, and leaves the domain without a policy unless
//     one is cached (§3.3).
//  2. applySTS: mode none does nothing; where DANE applies it wins (§2);
//     in enforce mode an MX no mx pattern matches is not tried
//     (sts-mx-mismatch, §4.1, §5), unless the profile checks the
//     patterns against the certificate (profiles.STSMatchCertificate).
//  3. under an enforced policy, TLS is required (tlsRequired), the
//     profile's `sts:` reactions replace its own (reaction), and the
//     certificate must be PKIX-valid for the MX (verifySTS, §4.2).
//  4. in testing mode the same checks are made and only reported
//     (STSReport.Failure, §5).

// discoverSTS finds the recipient domain's policy and applies it; false
// when the attempt ended there.
func (a *attempt) discoverSTS(ctx context.Context) bool {
	rep := &a.rep.STS
	if a.opts.Server != "" {
		// RFC 8461 §3.4: a policy is about the domain's MX hosts; a
		// host given by hand is a smart host, to which it does not
		// apply.
		rep.Result = "not applied: --server names the host, no MX was looked up (RFC 8461 §3.4)"
		return true
	}
	*rep = STSReport{LookedUp: true, Domain: a.domain}
	var cache *STSCache
	if a.p.Verify.MTASTSCache {
		cache = a.opts.STSCache
	}
	cached, haveCached := cache.get(a.domain, a.opts.Now())

	owner := "_mta-sts." + a.domain
	txts, _, err := a.opts.Resolver.LookupTXT(ctx, owner)
	step := Step{"step": "mta-sts", "owner": owner, "answer": txts}
	defer func() { a.step(step) }()
	var id string
	if err == nil {
		rep.TXT, id, err = stsRecord(txts)
		rep.ID = id
	}
	if err != nil {
		rep.TXTError = err.Error()
		if !haveCached {
			rep.Result = "no policy: " + err.Error()
			return true
		}
		// RFC 8461 §3.3: with no live policy to discover, a cached one
		// that has not expired still applies.
		return a.applySTS(cached, true)
	}
	if haveCached && cached.id == id {
		// §3.1: the id changes when the policy does; an unchanged id
		// needs no fetch.
		return a.applySTS(cached, true)
	}
	rep.URL = policyURL(a.domain)
	policy, lines, err := a.fetchPolicy(ctx)
	if err != nil {
		var fe *stsFetchError
		reason := result.STSPolicyFetchError
		if errors.As(err, &fe) {
			reason = fe.reason
		}
		rep.FetchError, rep.FetchFailure, rep.Policy = err.Error(), reason, lines
		step["fetch_error"] = err.Error()
		if haveCached {
			// §3.3: a valid cached policy applies when no new one can
			// be fetched.
			a.rep.Transcript = append(a.rep.Transcript, fmt.Sprintf("sender: MTA-STS policy fetch failed (%s): applying the cached policy", reason))
			return a.applySTS(cached, true)
		}
		// §3.3: no policy fetched and none cached: the domain is
		// treated as one without MTA-STS; the profile says what the
		// sender does about it.
		rep.Result = "no policy: the fetch failed and no policy is cached (RFC 8461 §3.3)"
		return a.react(reason, "")
	}
	rep.Fetched = true
	fresh := cachedPolicy{id: id, policy: policy, lines: lines, fetched: a.opts.Now()}
	cache.put(a.domain, fresh)
	step["mode"] = string(policy.Mode)
	return a.applySTS(fresh, false)
}

// applySTS applies a policy to the attempt's MX (RFC 8461 §4.1, §5);
// false when the attempt ended there.
func (a *attempt) applySTS(c cachedPolicy, fromCache bool) bool {
	rep := &a.rep.STS
	p := c.policy
	maxAge := p.MaxAge
	rep.FromCache, rep.Policy, rep.Mode, rep.MX, rep.MaxAge = fromCache, c.lines, p.Mode, p.MX, &maxAge
	if fromCache {
		rep.ID = c.id
	}
	switch {
	case p.Mode == STSNone:
		rep.Result = "no policy: mode none"
		return true
	case len(a.tlsa) > 0:
		// RFC 8461 §2: where DANE applies, a sender that implements
		// both uses DANE.
		rep.Result = "not applied: DANE applies to the MX (RFC 8461 §2)"
		return true
	}
	matched := p.Matches(a.mx)
	rep.MXMatched = &matched
	a.sts = p
	if p.Mode == STSTesting {
		rep.Result = "testing: failures are reported, not enforced (RFC 8461 §5)"
		if !matched {
			rep.Failure = result.STSMXMismatch
		}
		return true
	}
	a.stsEnforce = true
	rep.Result = "enforced"
	if !matched && a.p.Verify.MTASTSMatch != profiles.STSMatchCertificate {
		rep.Failure = result.STSMXMismatch
		rep.Result = "enforced: the MX matches no mx pattern (RFC 8461 §4.1)"
		a.finish(result.STSMXMismatch, "")
		return false
	}
	return true
}

// stsFailure notes a failure met under a policy, enforced or in testing
// mode, for the report: the first one is what the policy failed on.
func (a *attempt) stsFailure(f result.Reason) {
	if a.sts == nil || a.rep.STS.Failure != "" {
		return
	}
	if slices.Contains(stsFailures, f) {
		a.rep.STS.Failure = f
	}
}

// stsFailures are the failures an MTA-STS policy is about (RFC 8461 §5:
// no STARTTLS, no TLS, a certificate not valid for the MX).
var stsFailures = []result.Reason{result.STARTTLSNotSupported, result.STARTTLSRefused, result.TLSAlert, result.HandshakeFailed,
	result.CertificateExpired, result.CertificateNotTrusted, result.CertificateHostMismatch}

// verifySTS checks the certificate under the policy (RFC 8461 §4.2): a
// chain to a trusted root, in its validity window, naming the MX host
// (or, for a profile that checks the patterns against the certificate,
// naming a host an mx pattern matches). It returns whether the policy
// decided the attempt and, if so, whether it goes on. In testing mode
// the verdict is only reported.
func (a *attempt) verifySTS(chain []*x509.Certificate) (decided, goOn bool) {
	if a.sts == nil {
		return false, false
	}
	verdict := a.stsCertificate(chain)
	a.rep.STS.Certificate = verdict
	f := map[string]result.Reason{"expired": result.CertificateExpired, "not-trusted": result.CertificateNotTrusted,
		"host-mismatch": result.CertificateHostMismatch}[verdict]
	if !a.stsEnforce {
		if f != "" {
			a.stsFailure(f)
		}
		return false, false
	}
	if f == "" {
		a.rep.STS.Result = "enforced: the MX is listed and its certificate is valid for it"
		return true, true
	}
	a.rep.STS.Result = "enforced: the certificate is not valid under the policy (RFC 8461 §4.2)"
	return true, a.react(f, "")
}

// stsCertificate is the chain's verdict under the policy: trusted,
// expired, not-trusted or host-mismatch.
func (a *attempt) stsCertificate(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return "not-trusted"
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: a.opts.Roots, Intermediates: inter, CurrentTime: a.opts.Now()}); err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return "expired"
		}
		return "not-trusted"
	}
	if a.p.Verify.MTASTSMatch == profiles.STSMatchCertificate {
		for _, n := range chain[0].DNSNames {
			if a.sts.secureMatch(n) {
				return "trusted"
			}
		}
		return "host-mismatch"
	}
	if chain[0].VerifyHostname(a.mx) != nil {
		return "host-mismatch"
	}
	return "trusted"
}
