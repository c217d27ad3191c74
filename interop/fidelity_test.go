package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/sender"
	"github.com/mxlab/mxlab/server"
)

// levels are Postfix's smtp_tls_security_level values with a profile
// (postfix-<level>).
var levels = []string{"may", "encrypt", "dane", "verify"}

// levelSetups say how a level that is no smtp_tls_security_level value
// is set up (fidelity_mtasts_test.go: mta-sts, whose profile is
// postfix-mta-sts); a level without one is Postfix's own, set per
// recipient domain in the texthash policy map (postfixInstance.configure).
var levelSetups = map[string]levelSetup{}

// levelSetup is how one level runs.
type levelSetup struct {
	// main are main.cf settings written after the instance's own, where
	// the last definition of a parameter wins (postconf(5)).
	main []string
	// domains gives the recipient domain of the level's cell at a site
	// and the prediction's recipient (nil: cellDomain's defaults).
	domains func(site *lab.Site) (domain, predTo string)
}

// cellDomains are the recipient domain of a level's cell at a site and
// the prediction's recipient: by default <level>.<domain> and
// rcpt@pred-<level>.<domain>, so that no two cells share a destination.
func cellDomains(level string, site *lab.Site) (domain, predTo string) {
	if s, ok := levelSetups[level]; ok && s.domains != nil {
		return s.domains(site)
	}
	return level + "." + site.Domain, "rcpt@pred-" + level + "." + site.Domain
}

// mxScenarios are the scenarios an MTA delivers to: every MX scenario
// of the built-in catalogue (submission is not an MX), in catalogue
// order, so that a new scenario file is measured with no Go change.
var mxScenarios = builtinMXScenarios()

// builtinMXScenarios reads the names of the built-in catalogue's MX
// scenarios. The catalogue is embedded in the binary, so an error is a
// broken build, like a bad regexp.MustCompile: it panics.
func builtinMXScenarios() []string {
	cat, err := scenarios.Builtin()
	if err != nil {
		panic(fmt.Sprintf("interop: the built-in scenario catalogue: %v", err))
	}
	var names []string
	for _, s := range cat.All() {
		if s.Kind == scenarios.KindMX {
			names = append(names, s.Name)
		}
	}
	return names
}

// cell is one level × scenario: the prediction and what real Postfix did.
type cell struct {
	level, scenario string
	site            *lab.Site
	// domain is the cell's own recipient domain below the scenario's (the
	// lab answers MX for every name below it): Postfix throttles a
	// destination after a failure, so cells never share one
	// (docs/interop-recipe.md §8.11).
	domain string
	// predTo is the prediction's recipient (cellDomains).
	predTo string
	pred   *sender.Report
	// attempts are Postfix's delivery attempts of the cell's message, in
	// the order of its queue id's status= lines (Attempts).
	attempts []Delivery
	// records are the lab's sessions of the cell's run, oldest first.
	records []server.Record
	run     *postfixRun
}

func (c *cell) rcpt() string    { return "rcpt@" + c.domain }
func (c *cell) profile() string { return "postfix-" + c.level }

// first is Postfix's first attempt, nil if none was logged.
func (c *cell) first() *Delivery {
	if len(c.attempts) == 0 {
		return nil
	}
	return &c.attempts[0]
}

// retry is Postfix's second attempt, the one after minimal_backoff_time
// that postfixInstance.retry triggers; nil if none was logged.
func (c *cell) retry() *Delivery {
	if len(c.attempts) < 2 {
		return nil
	}
	return &c.attempts[1]
}

// wantsRetry says whether the cell's run triggers and waits for the
// attempt after minimal_backoff_time: when the first attempt was
// deferred at may (the plaintext fallback of §6a), or at any level whose
// profile predicts a delivery for that later attempt (dane without TLSA
// acts as may).
func (c *cell) wantsRetry() bool {
	f := c.first()
	if f == nil || f.Status != "deferred" {
		return false
	}
	if c.level == "may" {
		return true
	}
	return c.pred != nil && len(c.pred.Later) > 0 && isDelivered(string(c.pred.Later[0].Outcome))
}

// TestFidelityPostfix delivers to every MX scenario with real Postfix at
// each TLS level, in a private namespace beside `mxlab serve`, and
// compares what Postfix did with what `mxlab send --profile
// postfix-<level>` predicts. It prints the table of both.
func TestFidelityPostfix(t *testing.T) {
	began := time.Now()
	tools := needPostfix(t)
	w := newWorld(t)
	fidelityPostfix(t, w, tools, levels, began, "", "MXLAB_FIDELITY_REPORT")
}

// fidelityPostfix runs the Postfix fidelity suite in world w at the given
// levels; note says how the world differs from the default one, and
// reportEnv names the variable that names a file for the table.
func fidelityPostfix(t *testing.T, w *world, tools postfixTools, levels []string, began time.Time, note, reportEnv string) {
	t.Helper()
	t.Logf("lab up in namespace %s after %s (Postfix %s)", w.ns, time.Since(began).Round(time.Millisecond), tools.version)

	var cells []*cell
	for _, level := range levels {
		for _, name := range mxScenarios {
			site, err := w.layout.Site(name)
			if err != nil {
				t.Fatal(err)
			}
			domain, predTo := cellDomains(level, site)
			cells = append(cells, &cell{level: level, scenario: name, site: site, domain: domain, predTo: predTo})
		}
	}

	// Predictions first, so that their sessions are outside every
	// Postfix run's window.
	predict(t, w, cells)
	t.Logf("predictions done after %s", time.Since(began).Round(time.Millisecond))

	pf := newPostfix(t, w, tools)
	for _, level := range levels {
		var lc []*cell
		policy := map[string]string{}
		var rcpts []string
		for _, c := range cells {
			if c.level == level {
				lc = append(lc, c)
				policy[c.domain] = level
				rcpts = append(rcpts, c.rcpt())
			}
		}
		pf.main = levelSetups[level].main
		r := pf.deliver(t, level, policy, rcpts, func(ds []Delivery) bool {
			assignAttempts(lc, ds)
			for _, c := range lc {
				if c.first() == nil || c.wantsRetry() && c.retry() == nil {
					return false
				}
			}
			return true
		})
		assignAttempts(lc, r.deliveries)
		retries := 0
		for _, c := range lc {
			c.run = &r
			if c.wantsRetry() {
				retries++
			}
		}
		t.Logf("level %s: %d attempts logged in %s (%d cells retried)", level, len(r.deliveries), r.end.Sub(r.start).Round(time.Millisecond), retries)
	}
	assignRecords(t, w, cells)

	var table []Cell
	for _, c := range cells {
		table = append(table, compareFirst(c))
		if c.wantsRetry() {
			table = append(table, compareRetry(c))
		}
	}
	md := Markdown(table)
	header := fmt.Sprintf("Postfix %s (Debian) against mxlab's postfix-* profiles%s; whole test %s.\n\n", tools.version, note, time.Since(began).Round(100*time.Millisecond))
	t.Logf("fidelity:\n\n%s%s", header, md)
	if path := os.Getenv(reportEnv); path != "" {
		if err := os.WriteFile(path, []byte(header+md), 0o644); err != nil {
			t.Errorf("interop: %s: %v", reportEnv, err)
		}
	}
	for i, tc := range table {
		if !tc.Match() {
			t.Errorf("%s × %s (%s attempt) differs: %s\n  predicted (mxlab send): %s\n  observed (Postfix):     %s\n  lab saw: %s\n%s",
				tc.Profile, tc.Scenario, tc.Attempt, strings.Join(tc.Diffs, "; "), tc.Predicted, tc.Observed, tc.Lab, evidence(cellOf(cells, table[i])))
		}
	}
}

// predict runs `mxlab send --profile postfix-<level>` for every cell
// inside the namespace, a few at a time, to its own recipient (predTo:
// by default at pred-<level>.<scenario domain>).
func predict(t *testing.T, w *world, cells []*cell) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make([]error, len(cells))
	for i, c := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			to := c.predTo
			stdout, stderr, code, err := w.command(60*time.Second, "", append([]string{w.bin, "send", "--lab", w.manifest,
				"--profile", c.profile(), "--to", to, "--format", "json"}, w.sendArgs...)...)
			switch {
			case err != nil:
				errs[i] = err
			case code != 0 && code != 75 && code != 69: // delivered, deferred, bounced
				errs[i] = fmt.Errorf("mxlab send --profile %s --to %s: exit %d: %s", c.profile(), to, code, stderr)
			default:
				var rep sender.Report
				if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
					errs[i] = fmt.Errorf("mxlab send --profile %s --to %s: %w: %q", c.profile(), to, err, stdout)
				}
				c.pred = &rep
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("interop: %v", err)
		}
	}
}

// assignAttempts gives each cell its message's attempts.
func assignAttempts(cells []*cell, ds []Delivery) {
	for _, c := range cells {
		c.attempts = Attempts(ds, c.rcpt())
	}
}

// assignRecords gives each cell the lab's sessions of its scenario that
// started during its level's Postfix run. A run has one cell per
// scenario, so the scenario and the time window name the cell even for a
// session that never reached RCPT (which has no recipient). Records are
// written when a session ends, a little after Postfix has gone: wait
// until every logged attempt has one (a session of its phase, see
// sessionsOf), or fail at phaseDeadline.
func assignRecords(t *testing.T, w *world, cells []*cell) {
	t.Helper()
	deadline := time.Now().Add(phaseDeadline)
	for {
		recs := w.sessions(t)
		complete := true
		for _, c := range cells {
			c.records = nil
			for _, r := range recs {
				if r.Scenario == c.scenario && !r.Started.Before(c.run.start) && r.Started.Before(c.run.end) {
					c.records = append(c.records, r)
				}
			}
			sort.Slice(c.records, func(i, j int) bool { return c.records[i].Started.Before(c.records[j].Started) })
			complete = complete && c.recorded()
		}
		if complete {
			return
		}
		if time.Now().After(deadline) {
			var missing []string
			for _, c := range cells {
				if !c.recorded() {
					missing = append(missing, c.profile()+" × "+c.scenario)
				}
			}
			t.Errorf("interop: no lab session record after %s for attempts of %s (see the table)", phaseDeadline, strings.Join(missing, ", "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sessionsOf are the cell's sessions of the first attempt (first) or of
// the retry and any attempt after it: those that started before the
// retry was triggered, and those after. Every first attempt had been
// logged, so its connections had been made, before the trigger, and the
// retry's connections follow it: the split is by cause, not by a guess
// at how long anything takes.
func (c *cell) sessionsOf(first bool) []server.Record {
	if c.run == nil || c.run.retried.IsZero() {
		if first {
			return c.records
		}
		return nil
	}
	var out []server.Record
	for _, r := range c.records {
		if r.Started.Before(c.run.retried) == first {
			out = append(out, r)
		}
	}
	return out
}

// recorded says whether the lab has a session for each of the first
// attempt and the retry that Postfix logged.
func (c *cell) recorded() bool {
	return (!connected(c.first()) || len(c.sessionsOf(true)) > 0) &&
		(!connected(c.retry()) || len(c.sessionsOf(false)) > 0)
}

// connected says whether an attempt reached the lab: Postfix logs
// relay=none for one that ended before connecting (a failed TLSA lookup
// at dnssec-bogus), which leaves no session record.
func connected(d *Delivery) bool { return d != nil && d.Relay != "none" }

// recordFor is the lab's record of an attempt, the first or the retry:
// the session of its phase (sessionsOf) that received the cell's
// recipient, else (no RCPT reached) the phase's first session, where the
// attempt began.
func (c *cell) recordFor(d *Delivery, first bool) *server.Record {
	recs := c.sessionsOf(first)
	if d != nil && d.Status == "sent" {
		for i := range recs {
			if m := recs[i].Message; m != nil && contains(m.To, c.rcpt()) {
				return &recs[i]
			}
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return &recs[0]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// compareFirst compares the prediction with Postfix's first attempt:
// outcome, status (DSN, status word and text, normalised; for a delivery
// the DSN and status=sent only), and the SNI the lab saw. It also checks
// that the lab's record agrees with Postfix about TLS and the message.
func compareFirst(c *cell) Cell {
	d := c.first()
	rec := c.recordFor(d, true)
	out := Cell{Profile: c.profile(), Scenario: c.scenario, Attempt: "first",
		Predicted: predictedSide(c.pred), Observed: observedSide(d, rec), Lab: summarize(rec)}
	out.Diffs = diffSides(out.Predicted, out.Observed, true)
	out.Diffs = append(out.Diffs, labAgrees(d, rec)...)
	return out
}

// compareRetry compares what the profile predicts for the next attempt
// (later[0]) with Postfix's attempt after minimal_backoff_time
// (docs/interop-recipe.md §6a: the plaintext fallback at may).
func compareRetry(c *cell) Cell {
	d := c.retry()
	rec := c.recordFor(d, false)
	out := Cell{Profile: c.profile(), Scenario: c.scenario, Attempt: "retry",
		Observed: observedSide(d, rec), Lab: "from the retry on: " + summarizeAll(c.sessionsOf(false))}
	if c.pred != nil && len(c.pred.Later) > 0 {
		l := c.pred.Later[0]
		out.Predicted = Side{Outcome: string(l.Outcome), Status: "after " + l.After + " (minimal_backoff_time; here lowered to " +
			fmt.Sprint(minimalBackoff) + "s, reload, postqueue -f)"}
	} else {
		out.Predicted = Side{Outcome: "(no later attempt predicted)"}
	}
	if d != nil {
		// The delay is information only: the attempt is the second by
		// the order of its queue id's status= lines.
		out.Observed.Note = fmt.Sprintf("attempt 2 of %s, delay=%gs", d.QueueID, d.Delay)
	}
	out.Diffs = diffSides(out.Predicted, out.Observed, false)
	out.Diffs = append(out.Diffs, labAgrees(d, rec)...)
	return out
}

// predictedSide is what `mxlab send` said: the outcome, the status line
// its bounce_text carries, and the SNI it sent.
func predictedSide(rep *sender.Report) Side {
	if rep == nil {
		return Side{Outcome: "(no prediction)"}
	}
	s := Side{Outcome: string(rep.Outcome), Status: rep.BounceText}
	if st, ok := ParseStatus(rep.BounceText); ok {
		if isDelivered(s.Outcome) {
			st.Text = ""
		}
		s.Status = st.String()
	}
	if rep.TLS != nil {
		s.SNI = "none"
		if rep.TLS.SNISent != nil {
			s.SNI = *rep.TLS.SNISent
		}
	}
	return s
}

// observedSide is what Postfix did on one attempt, with the SNI the lab
// saw in its ClientHello.
func observedSide(d *Delivery, rec *server.Record) Side {
	if d == nil {
		return Side{Outcome: "(no attempt logged)"}
	}
	s := Side{Outcome: d.Status, Status: d.StatusText()}
	switch d.Status {
	case "sent":
		s.Outcome = string(result.DeliveredPlaintext)
		if d.TLS != "" {
			s.Outcome = string(result.Delivered)
		}
		s.Status = Status{DSN: d.DSN, Status: d.Status}.String()
	case "expired":
		s.Outcome = string(result.Bounced)
	}
	s.Note = fmt.Sprintf("delay=%gs", d.Delay)
	if d.TLS != "" {
		s.Note = d.TLS + " TLS, " + s.Note
	}
	if rec != nil && closedBeforeHello(rec) {
		s.SNI = sniUnobservable
	} else if rec != nil && rec.ClientHello != nil {
		s.SNI = "none"
		if rec.ClientHello.SNI != nil {
			s.SNI = *rec.ClientHello.SNI
		}
	}
	return s
}

func isDelivered(outcome string) bool {
	return outcome == string(result.Delivered) || outcome == string(result.DeliveredPlaintext)
}

// diffSides lists how prediction and observation differ. The status is
// compared after Normalize (host names, addresses, ports, queue ids);
// for the retry only the outcome is predicted.
func diffSides(pred, obs Side, full bool) []string {
	var diffs []string
	if pred.Outcome != obs.Outcome {
		diffs = append(diffs, fmt.Sprintf("outcome %s ≠ %s", pred.Outcome, obs.Outcome))
	}
	if !full {
		return diffs
	}
	if Normalize(pred.Status) != Normalize(obs.Status) {
		diffs = append(diffs, fmt.Sprintf("status %q ≠ %q", Normalize(pred.Status), Normalize(obs.Status)))
	}
	if pred.SNI != obs.SNI && obs.SNI != sniUnobservable {
		diffs = append(diffs, fmt.Sprintf("SNI %s ≠ %s", orDash(pred.SNI), orDash(obs.SNI)))
	}
	return diffs
}

// sniUnobservable stands for the SNI of a session the lab ended before
// reading the ClientHello (a fault at tls-ready, drop-after-220): the
// client sent one, but nobody saw it, so it is not compared.
const sniUnobservable = "(not observable: the lab closed before the ClientHello)"

// closedBeforeHello says whether a fault at tls-ready ended the session
// (server/faults.go notes "fault: <action> at tls-ready").
func closedBeforeHello(r *server.Record) bool {
	for _, n := range r.Notes {
		if strings.HasPrefix(n, "fault: ") && strings.Contains(n, " at tls-ready") {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "(no handshake)"
	}
	return s
}

// labAgrees checks the lab's record against what Postfix logged: TLS
// established on both sides or neither, and a message received exactly
// when Postfix logged status=sent.
func labAgrees(d *Delivery, rec *server.Record) []string {
	if d == nil {
		return nil
	}
	if rec == nil && !connected(d) {
		return nil // no connection, no session: nothing to compare
	}
	if rec == nil {
		return []string{"no lab session record for the attempt"}
	}
	var diffs []string
	if (rec.TLS != nil) != (d.TLS != "") {
		diffs = append(diffs, fmt.Sprintf("lab record tls=%v but Postfix logged TLS %q", rec.TLS != nil, d.TLS))
	}
	if (rec.Message != nil) != (d.Status == "sent") {
		diffs = append(diffs, fmt.Sprintf("lab record message=%v but Postfix logged status=%s", rec.Message != nil, d.Status))
	}
	return diffs
}

// summarize is a record in a few words: counts, TLS or alert, how it
// ended.
func summarize(r *server.Record) string {
	if r == nil {
		return "(no record)"
	}
	parts := []string{r.Counts}
	if r.TLS != nil {
		parts = append(parts, r.TLS.Version)
	}
	if r.AlertSent != nil {
		parts = append(parts, fmt.Sprintf("alert %d %s sent", r.AlertSent.Code, r.AlertSent.Name))
	}
	parts = append(parts, string(r.EndReason))
	return strings.Join(parts, ", ")
}

func summarizeAll(recs []server.Record) string {
	var parts []string
	for i := range recs {
		parts = append(parts, summarize(&recs[i]))
	}
	return strings.Join(parts, " ‖ ")
}

func cellOf(cells []*cell, tc Cell) *cell {
	for _, c := range cells {
		if c.profile() == tc.Profile && c.scenario == tc.Scenario {
			return c
		}
	}
	return nil
}

// evidence is what a differing cell rests on: Postfix's log lines for the
// recipient and the lab's records, and the prediction's transcript.
func evidence(c *cell) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  Postfix maillog (%s):\n", c.run.log)
	for _, d := range c.attempts {
		for _, l := range d.Log {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	writeLabAndPrediction(&b, c.records, c.pred)
	return b.String()
}

// writeLabAndPrediction ends a differing cell's evidence: the lab's
// session records and the prediction's transcript.
func writeLabAndPrediction(b *strings.Builder, records []server.Record, pred *sender.Report) {
	fmt.Fprintf(b, "  lab session records:\n")
	for _, r := range records {
		sni := "-"
		if r.ClientHello != nil {
			sni = "none"
			if r.ClientHello.SNI != nil {
				sni = *r.ClientHello.SNI
			}
		}
		fmt.Fprintf(b, "    %s %s SNI=%s commands=%q %s\n", r.ID, r.Started.Format("15:04:05.000"), sni, r.Commands, summarize(&r))
	}
	if pred != nil {
		fmt.Fprintf(b, "  mxlab send transcript:\n")
		for _, l := range pred.Transcript {
			// The message itself is one entry: its first line will do.
			if first, _, cut := strings.Cut(l, "\n"); cut {
				l = first + " …"
			}
			fmt.Fprintf(b, "    %s\n", l)
		}
	}
}
