// Package probe predicts, for a real domain, which senders would fail to
// deliver there and why: every profile makes its attempt up to MAIL FROM
// and QUITs, so no mail is sent.
package probe

import (
	"context"
	"sync"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
)

// Unknown is the outcome of a profile probe cannot judge.
const Unknown result.Outcome = "unknown"

// Prediction is one profile's predicted outcome.
type Prediction struct {
	Profile string         `json:"profile"`
	Outcome result.Outcome `json:"outcome"`
	Reason  string         `json:"reason"`
	Why     string         `json:"why,omitempty"`
	Report  *sender.Report `json:"report"`
}

// Result is a whole probe.
type Result struct {
	Domain string `json:"domain"`
	// ResolverValidates says whether the resolver sets AD on a signed
	// name (the root's NS): without it DANE cannot be judged.
	ResolverValidates bool         `json:"resolver_validates"`
	Predictions       []Prediction `json:"predictions"`
}

// Options configure a probe.
type Options struct {
	Domain   string
	Profiles []*profiles.Profile
	// Base is copied for every attempt (resolver, roots, timeouts,
	// ports); Profile, To and Probe are set per attempt.
	Base sender.Options
}

// Run probes the domain as every profile.
func Run(ctx context.Context, opts Options) *Result {
	res := &Result{Domain: opts.Domain, ResolverValidates: validates(ctx, opts.Base.Resolver)}
	res.Predictions = make([]Prediction, len(opts.Profiles))
	var wg sync.WaitGroup
	for i, p := range opts.Profiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts.Base
			o.Profile, o.To, o.Probe = p, "postmaster@"+opts.Domain, true
			rep, err := sender.Send(ctx, o)
			pred := Prediction{Profile: p.Name, Report: rep}
			switch {
			case err != nil:
				pred.Outcome, pred.Why = Unknown, err.Error()
			case p.Verify.DANE && !res.ResolverValidates:
				// Without authenticated answers a DANE sender's TLSA
				// lookup cannot be reproduced: do not guess "opportunistic".
				pred.Outcome, pred.Reason = Unknown, "dnssec-unknown"
				pred.Why = "the resolver does not authenticate its answers (no AD), so whether this sender applies DANE here cannot be judged; use --resolver with a validating resolver"
			default:
				pred.Outcome, pred.Reason = rep.Outcome, string(rep.Reason)
				if rep.Reason == result.Probe {
					pred.Reason = ""
				}
				pred.Why = rep.BounceText
			}
			res.Predictions[i] = pred
		}()
	}
	wg.Wait()
	return res
}

// validates asks the resolver for ". NS" with DO and AD: a validating
// resolver sets AD on the signed root. Only a real resolver can say.
func validates(ctx context.Context, d sender.DNS) bool {
	r, ok := d.(*sender.Resolver)
	if !ok || r == nil {
		return false
	}
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeNS)
	m.SetEdns0(1232, true)
	m.AuthenticatedData = true
	c := &dns.Client{Timeout: r.Timeout}
	if c.Timeout == 0 {
		c.Timeout = 5e9
	}
	resp, _, err := c.ExchangeContext(ctx, m, r.Addr)
	return err == nil && resp.Rcode == dns.RcodeSuccess && resp.AuthenticatedData
}
