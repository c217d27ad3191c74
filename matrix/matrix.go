// Package matrix runs every sender profile against every MX scenario of a
// lab and compares each cell with the scenario's evidenced expectation.
package matrix

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/sender"
)

// Cell is one (scenario, profile) attempt and its verdict
// (docs/contracts.md: the matrix's JSON).
type Cell struct {
	Scenario string         `json:"scenario"`
	Profile  string         `json:"profile"`
	Outcome  result.Outcome `json:"outcome"`
	Reason   string         `json:"reason"`
	// Expected is the scenario's evidenced expectation, nil for none.
	Expected *string `json:"expected"`
	// Evidence cites the expectation, nil for none.
	Evidence *string `json:"evidence"`
	// Match is true or false, or nil when there is no evidenced
	// expectation (unverified, never counted as a match).
	Match *bool `json:"match"`
	// Report is the whole attempt.
	Report *sender.Report `json:"-"`
}

// Result is a whole matrix.
type Result struct {
	Cells []Cell `json:"cells"`
	// Scenarios and Profiles are the rows and columns, in order.
	Scenarios []*scenarios.Scenario `json:"-"`
	Profiles  []*profiles.Profile   `json:"-"`
}

// Options configure a run.
type Options struct {
	// Layout is the lab's (required).
	Layout *lab.Layout
	// Roots trust the lab CA (required for PKIX cells to verify).
	Roots *x509.CertPool
	// Profiles and Scenarios select rows and columns; scenarios of kind
	// submission are always left out.
	Profiles  []*profiles.Profile
	Scenarios []*scenarios.Scenario
	// Concurrency bounds simultaneous attempts (default 16).
	Concurrency int
	// Timeout bounds each network step of an attempt (default 10s).
	Timeout time.Duration
}

// Run performs every cell concurrently.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Layout == nil {
		return nil, fmt.Errorf("matrix: no lab layout")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	res := &Result{Profiles: opts.Profiles}
	sites := map[string]*lab.Site{}
	for _, s := range opts.Layout.Scenarios {
		sites[s.Name] = s
	}
	for _, sc := range opts.Scenarios {
		if sc.Kind != scenarios.KindMX {
			continue
		}
		if _, ok := sites[sc.Name]; !ok {
			return nil, fmt.Errorf("matrix: scenario %s is not running in the lab", sc.Name)
		}
		res.Scenarios = append(res.Scenarios, sc)
	}
	resolver := &sender.Resolver{Addr: opts.Layout.DNS, Timeout: opts.Timeout}
	for _, sc := range res.Scenarios {
		for _, p := range res.Profiles {
			res.Cells = append(res.Cells, Cell{Scenario: sc.Name, Profile: p.Name})
		}
	}
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i := range res.Cells {
		cell := &res.Cells[i]
		sc := scenarioByName(res.Scenarios, cell.Scenario)
		p := profileByName(res.Profiles, cell.Profile)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Each cell has its own recipient domain: real MTAs throttle
			// a destination after a failure, and records stay apart. An
			// MTA-STS policy is published for the scenario's domain only
			// (_mta-sts.<domain>, RFC 8461 §3.1), so there the profile
			// goes in the local part instead.
			site := sites[sc.Name]
			to := "postmaster@" + p.Name + "." + site.Domain
			if site.MTASTS != nil {
				to = p.Name + "@" + site.Domain
			}
			rep, err := sender.Send(ctx, sender.Options{
				Profile: p, To: to, Resolver: resolver, Roots: opts.Roots, Timeout: opts.Timeout,
				PortFor: opts.Layout.PortFor, HTTPSAddrFor: PolicyHostAddr(opts.Layout),
			})
			if err != nil {
				cell.Outcome, cell.Reason = "error", err.Error()
				return
			}
			rep.Scenario = sc.Name
			cell.Report = rep
			cell.Outcome, cell.Reason = rep.Outcome, string(rep.Reason)
			judge(cell, sc)
		}()
	}
	wg.Wait()
	return res, nil
}

// PolicyHostAddr reaches a lab's MTA-STS policy hosts at the addresses
// its manifest names (scenarios[].mta_sts.address): RFC 8461 §3.3's port
// 443 only in the shared-port layout. A name that is no policy host's
// gets "": the sender asks DNS and uses port 443.
func PolicyHostAddr(l *lab.Layout) func(host string) string {
	return func(host string) string {
		host = strings.TrimSuffix(host, ".")
		for _, s := range l.Scenarios {
			if s.MTASTS != nil && strings.EqualFold(s.MTASTS.Host, host) {
				return s.MTASTS.Address
			}
		}
		return ""
	}
}

// judge compares a cell with the scenario's expectation for its profile.
func judge(cell *Cell, sc *scenarios.Scenario) {
	exp, ok := sc.Expectations[cell.Profile]
	if !ok || exp.Outcome == "" || exp.Evidence == "" {
		return
	}
	want, ev := string(exp.Outcome), exp.Evidence
	cell.Expected, cell.Evidence = &want, &ev
	m := cell.Outcome == exp.Outcome && (exp.Reason == "" || string(exp.Reason) == cell.Reason)
	cell.Match = &m
}

// Counts are the verdicts over all cells.
type Counts struct{ Match, Diverge, Unverified int }

// Counts tallies the cells.
func (r *Result) Counts() Counts {
	var c Counts
	for _, cell := range r.Cells {
		switch {
		case cell.Match == nil:
			c.Unverified++
		case *cell.Match:
			c.Match++
		default:
			c.Diverge++
		}
	}
	return c
}

// Cell returns the cell of a scenario and profile.
func (r *Result) Cell(scenario, profile string) *Cell {
	for i := range r.Cells {
		if r.Cells[i].Scenario == scenario && r.Cells[i].Profile == profile {
			return &r.Cells[i]
		}
	}
	return nil
}

func scenarioByName(all []*scenarios.Scenario, name string) *scenarios.Scenario {
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func profileByName(all []*profiles.Profile, name string) *profiles.Profile {
	for _, p := range all {
		if p.Name == name {
			return p
		}
	}
	return nil
}
