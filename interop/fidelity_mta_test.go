package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/sender"
	"github.com/mxlab/mxlab/server"
)

// This file is what TestFidelityExim and TestFidelitySendmail share: a
// real MTA other than Postfix as the sender, one message per MX scenario
// to its own recipient domain, and the comparison with `mxlab send
// --profile <mta>`. What differs between the MTAs (how they are set up,
// started, asked to retry, and how their logs read) is in
// fidelity_exim_test.go and fidelity_sendmail_test.go.

// The outcomes of an attempt, as the profiles and `mxlab send` name them
// (docs/contracts.md); spelled out here so that these tests read the
// contract, not the Go type that carries it.
const (
	outcomeDelivered = "delivered"
	outcomePlaintext = "delivered-plaintext"
	outcomeDeferred  = "deferred"
	outcomeBounced   = "bounced"
)

// mtaAttempt is one delivery attempt of one recipient, read from the
// MTA's log.
type mtaAttempt struct {
	// Outcome is one of the outcomes above: delivered, delivered-plaintext,
	// deferred or bounced.
	Outcome string
	// Final is the line that ended the attempt for the recipient, with
	// the recipient cut out where the profiles leave it out.
	Final string
	// Lines are the MTA's lines of the message during the attempt, Final
	// included, in log order: what a profile's message is looked for in.
	Lines []string
	// TLS says whether the MTA logged an established TLS session for the
	// delivery that ended the attempt.
	TLS bool
}

// mtaCell is one scenario delivered to by the real MTA: the prediction,
// the MTA's attempts and the lab's records of them.
type mtaCell struct {
	profile, scenario string
	site              *lab.Site
	// domain is the cell's own recipient domain, <profile>.<scenario
	// domain>: one destination per cell, so that one cell's failure
	// never changes how the MTA treats another's (an MTA remembers
	// failing hosts: Exim's retry database, sendmail's host status).
	domain   string
	pred     *sender.Report
	attempts []mtaAttempt
	// records are the lab's sessions of the cell's scenario during the
	// MTA's run, oldest first.
	records []server.Record
}

func (c *mtaCell) rcpt() string { return "rcpt@" + c.domain }

// later is the attempt after the first that the profile predicts, nil
// for none.
func (c *mtaCell) later() *profiles.Later {
	if c.pred == nil || len(c.pred.Later) == 0 {
		return nil
	}
	return &c.pred.Later[0]
}

// wantsRetry says whether the run triggers the cell's next attempt: the
// first one deferred and the profile predicts what the next one does.
func (c *mtaCell) wantsRetry() bool {
	return len(c.attempts) > 0 && c.attempts[0].Outcome == outcomeDeferred && c.later() != nil
}

// mtaCells makes one cell per MX scenario of the built-in catalogue, in
// catalogue order, each with the recipient domain <profile>.<scenario
// domain>.
func mtaCells(t *testing.T, w *world, profile string) []*mtaCell {
	t.Helper()
	var cells []*mtaCell
	for _, name := range mxScenarios {
		site, err := w.layout.Site(name)
		if err != nil {
			t.Fatal(err)
		}
		cells = append(cells, &mtaCell{profile: profile, scenario: name, site: site, domain: profile + "." + site.Domain})
	}
	return cells
}

// predictMTA runs `mxlab send --profile <profile>` for every cell inside
// the namespace, a few at a time, to its own recipient domain
// (pred-<profile>.<scenario domain>), before the MTA runs, so that its
// sessions are outside the MTA's window.
func predictMTA(t *testing.T, w *world, cells []*mtaCell) {
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
			to := "rcpt@pred-" + c.profile + "." + c.site.Domain
			stdout, stderr, code, err := w.command(60*time.Second, "", append([]string{w.bin, "send", "--lab", w.manifest,
				"--profile", c.profile, "--to", to, "--format", "json"}, w.sendArgs...)...)
			switch {
			case err != nil:
				errs[i] = err
			case code != 0 && code != 75 && code != 69: // delivered, deferred, bounced
				errs[i] = fmt.Errorf("mxlab send --profile %s --to %s: exit %d: %s", c.profile, to, code, stderr)
			default:
				var rep sender.Report
				if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
					errs[i] = fmt.Errorf("mxlab send --profile %s --to %s: %w: %q", c.profile, to, err, stdout)
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

// mtaRun is one run of the MTA as a sender: a shell inside the namespace
// and a private mount namespace that sets the MTA up, injects one
// message per cell, and then waits for steps from the test on its
// standard input, one line each ("retry ARGS" or "end"), because the
// MTA's queue lives in that mount namespace's overlay and only a process
// inside it can reach it.
type mtaRun struct {
	name string
	// log is the MTA's log file, read from outside through the overlay's
	// upper directory.
	log string
	// verbose is a directory of the MTA's -v output, one file per
	// recipient and step.
	verbose string
	// start and end bound the run; retried is when the retry step was
	// sent (zero if none): the lab's sessions that started before it are
	// first attempts' (every first attempt was logged by then), those
	// after it the retries'.
	start, retried, end time.Time
	// retryAge is how old every first attempt must be before the retry
	// step: the shortened timeout that the step's attempt must come
	// after (Exim's retry cutoff, sendmail's Timeout.queuereturn).
	retryAge time.Duration
	steps    io.WriteCloser
	d        *daemon
	parse    func(log string, cells []*mtaCell) error
}

// startMTARun starts script (which must end by reading steps, see
// mtaRun) with `unshare -m` inside the namespace; the test's cleanup
// stops it by PID.
func startMTARun(t *testing.T, w *world, name, log, verbose, script string, parse func(string, []*mtaCell) error) *mtaRun {
	t.Helper()
	// An *os.File, so that the shell reads the pipe itself: with any
	// other reader exec copies it in a goroutine that Wait waits for,
	// and a shell that ended would not be seen to end.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &mtaRun{name: name, log: log, verbose: verbose, steps: pw, parse: parse, start: time.Now()}
	r.d = w.startDaemon(t, pr, nil, "unshare", "-m", "--propagation", "private", "bash", "-c", script)
	_ = pr.Close()
	// Closed first (cleanups run last-in first-out): the shell reads EOF
	// and ends by itself before startDaemon's cleanup signals it.
	t.Cleanup(func() { _ = pw.Close() })
	return r
}

// stepScript is the end of every run's script: it reads the test's steps
// and runs retry (a shell function the script defines) with the step's
// arguments.
const stepScript = `
while read -r step args; do
  case $step in
  retry) retry $args; echo "` + retryDone + `" ;;
  end) exit 0 ;;
  esac
done
`

// retryDone is what the shell prints once its retry step has run to its
// end: every attempt the step made has been logged by then.
const retryDone = "mxlab: retry step done"

// step sends one step to the run's shell.
func (r *mtaRun) step(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(r.steps, line+"\n"); err != nil {
		t.Fatalf("interop: %s: step %q: %v", r.name, line, err)
	}
}

// await reads the MTA's log until cond holds for the cells' attempts. It
// fails the test at phaseDeadline (which decides nothing, it only ends a
// wait that went wrong) or when the shell ended first, with what the log
// held, and returns false then.
func (r *mtaRun) await(t *testing.T, cells []*mtaCell, what string, cond func(*mtaCell) bool) bool {
	t.Helper()
	deadline := time.Now().Add(phaseDeadline)
	for {
		err := r.parse(r.log, cells)
		if err != nil {
			t.Fatalf("interop: %s: %s: %v", r.name, r.log, err)
		}
		var missing []string
		for _, c := range cells {
			if !cond(c) {
				missing = append(missing, fmt.Sprintf("%s (%d attempts)", c.rcpt(), len(c.attempts)))
			}
		}
		if len(missing) == 0 {
			return true
		}
		ended := false
		select {
		case <-r.d.done:
			ended = true
		default:
		}
		if ended || time.Now().After(deadline) {
			log, _ := os.ReadFile(r.log)
			t.Errorf("interop: %s: no %s in the log for %s (ended=%v, after %s)\nlog:\n%s\nshell said:\n%s",
				r.name, what, strings.Join(missing, ", "), ended, time.Since(r.start).Round(time.Millisecond), log, r.d.out.String())
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitRetry waits until the shell says its retry step has ended (its
// commands run in the foreground, so their attempts are logged by then);
// at phaseDeadline, or if the shell ended first, it fails the test.
func (r *mtaRun) awaitRetry(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(phaseDeadline)
	for !strings.Contains(r.d.out.String(), retryDone) {
		select {
		case <-r.d.done:
			t.Errorf("interop: %s: the shell ended during the retry step:\n%s", r.name, r.d.out.String())
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Errorf("interop: %s: the retry step did not end within %s:\n%s", r.name, phaseDeadline, r.d.out.String())
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// finish ends the shell ("end", then EOF) and waits for it; the cleanup
// kills it by PID if it does not end.
func (r *mtaRun) finish(t *testing.T) {
	t.Helper()
	r.step(t, "end")
	_ = r.steps.Close()
	select {
	case <-r.d.done:
	case <-time.After(phaseDeadline):
		t.Errorf("interop: %s: the shell did not end after its last step:\n%s", r.name, r.d.out.String())
	}
	r.end = time.Now()
}

// drive runs the cells' deliveries: it waits for every first attempt,
// triggers the retry (retryArgs gives the step's arguments for the cells
// that want one) and waits for those, and ends the run.
func (r *mtaRun) drive(t *testing.T, cells []*mtaCell, retryArgs func([]*mtaCell) string) {
	t.Helper()
	if r.await(t, cells, "final line of a first attempt", func(c *mtaCell) bool { return len(c.attempts) > 0 }) {
		var retry []*mtaCell
		for _, c := range cells {
			if c.wantsRetry() {
				retry = append(retry, c)
			}
		}
		if len(retry) > 0 {
			// Every first attempt was logged, so had failed, before
			// now: from now+retryAge on, each is older than retryAge.
			// The extra second is a margin on the MTAs' whole-second
			// clocks, never a measurement.
			time.Sleep(r.retryAge + time.Second)
			r.retried = time.Now()
			r.step(t, "retry "+retryArgs(retry))
			r.awaitRetry(t)
			if err := r.parse(r.log, cells); err != nil {
				t.Fatalf("interop: %s: %s: %v", r.name, r.log, err)
			}
		}
	}
	r.finish(t)
}

// assignMTARecords gives each cell the lab's sessions of its scenario
// that started during the run (one cell per scenario, so the scenario
// and the window name the cell, even for a session that never reached
// RCPT). Records are written when a session ends: wait until every
// logged attempt has one, or fail at phaseDeadline.
func assignMTARecords(t *testing.T, w *world, r *mtaRun, cells []*mtaCell) {
	t.Helper()
	deadline := time.Now().Add(phaseDeadline)
	for {
		recs := w.sessions(t)
		var missing []string
		for _, c := range cells {
			c.records = nil
			for _, rec := range recs {
				if rec.Scenario == c.scenario && !rec.Started.Before(r.start) && rec.Started.Before(r.end) {
					c.records = append(c.records, rec)
				}
			}
			sort.Slice(c.records, func(i, j int) bool { return c.records[i].Started.Before(c.records[j].Started) })
			for i := range c.attempts {
				if i < 2 && len(r.sessionsOf(c, i == 0)) == 0 && c.connects(i) && c.predConnects() {
					missing = append(missing, fmt.Sprintf("%s attempt %d", c.scenario, i+1))
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("interop: %s: no lab session record after %s for %s (see the table)", r.name, phaseDeadline, strings.Join(missing, ", "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// predConnects says whether the prediction reached the lab: an attempt
// that ends at DNS (dnssec-bogus's failed TLSA lookup) makes no session,
// though the MTA may name the host in its lines (Exim's "H=… [addr]:
// DANE error: tlsa lookup DEFER").
func (c *mtaCell) predConnects() bool {
	if c.pred == nil {
		return true
	}
	for _, s := range c.pred.Steps {
		if s["step"] == "connect" {
			return true
		}
	}
	return false
}

// connects says whether attempt i reached the lab: an MTA may defer
// without connecting (sendmail's host status), which its log shows by
// having no relay address in its lines; anything else connected.
func (c *mtaCell) connects(i int) bool {
	for _, l := range c.attempts[i].Lines {
		if strings.Contains(l, c.site.Addr().Addr().String()) {
			return true
		}
	}
	return false
}

// sessionsOf are the cell's sessions of the first attempt (first) or of
// the retry: split at the moment the retry step was sent, after every
// first attempt had been logged (so by cause, not by a guess at how
// long anything takes).
func (r *mtaRun) sessionsOf(c *mtaCell, first bool) []server.Record {
	if r.retried.IsZero() {
		if first {
			return c.records
		}
		return nil
	}
	var out []server.Record
	for _, rec := range c.records {
		if rec.Started.Before(r.retried) == first {
			out = append(out, rec)
		}
	}
	return out
}

// compareMTA compares the prediction with the MTA's first attempt
// (outcome, the profile's message found in the attempt's log lines, the
// SNI the lab saw) and, where the profile predicts a later attempt, with
// the retry (outcome only) or says why there was none.
// wordForWord are the MTAs whose predicted texts must equal their log
// lines after Normalize, with no "..." left open.
var wordForWord = map[string]bool{"Exim": true, "sendmail": true}

// shortNameRE is a host name sendmail shortened with "..." in relay=
// (shortenstring, {mx_short}): sendmail's text, not an open part.
var shortNameRE = regexp.MustCompile(`[A-Za-z0-9_-]\.\.\.[A-Za-z0-9_-]`)

func compareMTA(r *mtaRun, c *mtaCell, mta string) []Cell {
	var first *mtaAttempt
	if len(c.attempts) > 0 {
		first = &c.attempts[0]
	}
	recs := r.sessionsOf(c, true)
	out := Cell{Profile: c.profile, Scenario: c.scenario, Attempt: "first",
		Predicted: predictedSide(c.pred), Observed: mtaSide(first, recs), Lab: summarizeAll(recs)}
	found := false
	msg := out.Predicted.Status
	if !wordForWord[mta] {
		msg = withoutReply(msg, c.pred)
	}
	if first != nil {
		// Final too: it is the final line as the profiles write it, with
		// the recipient cut out.
		var lines []string
		lines, found = findMessage(msg, append(first.Lines, first.Final))
		if found {
			out.Observed.Status = strings.Join(lines, "; ")
		}
	}
	out.Diffs = mtaDiffs(out.Predicted, out.Observed, msg, found)
	if wordForWord[mta] && strings.Contains(shortNameRE.ReplaceAllString(out.Predicted.Status, ""), "...") {
		// Issue 15: the texts send predicts equal what the MTA logs,
		// the lab's reply included (its queue id is normalised).
		out.Diffs = append(out.Diffs, fmt.Sprintf("the prediction leaves a part open (...): %q", out.Predicted.Status))
	}
	out.Diffs = append(out.Diffs, mtaLabAgrees(mta, c, first, recs)...)
	cells := []Cell{out}

	l := c.later()
	if l == nil {
		return cells
	}
	re := Cell{Profile: c.profile, Scenario: c.scenario, Attempt: "retry",
		Predicted: Side{Outcome: string(l.Outcome), Status: "after " + l.After + ": " + l.Why}}
	switch {
	case first == nil:
		re.Observed = Side{Outcome: "(no first attempt)"}
		re.Diffs = []string{"no first attempt logged"}
	case !c.wantsRetry():
		// The profile's later attempt follows a deferral; the first
		// attempt did something else, which the first row shows.
		re.Observed = Side{Outcome: "(not triggered: the first attempt was " + first.Outcome + ")"}
		re.Diffs = []string{"no deferral to retry"}
	default:
		// The retry step may make more than one attempt (Exim: the
		// forced one past the cutoff, then the queue run that times
		// the address out): the last one is how it ended.
		var retry *mtaAttempt
		var outcomes []string
		for i := 1; i < len(c.attempts); i++ {
			retry = &c.attempts[i]
			outcomes = append(outcomes, retry.Outcome)
		}
		recs := r.sessionsOf(c, false)
		re.Observed = mtaSide(retry, recs)
		if len(outcomes) > 0 {
			re.Observed.Note = "attempts after the first: " + strings.Join(outcomes, ", ")
		}
		re.Lab = "from the retry on: " + summarizeAll(recs)
		re.Diffs = diffSides(re.Predicted, re.Observed, false)
		re.Diffs = append(re.Diffs, mtaLabAgrees(mta, c, retry, recs)...)
	}
	return append(cells, re)
}

// mtaSide is what the MTA did on one attempt (its final line as the
// status, until the profile's message is found in the attempt's lines),
// with the SNI of the attempt's first ClientHello the lab saw.
func mtaSide(a *mtaAttempt, recs []server.Record) Side {
	if a == nil {
		return Side{Outcome: "(no attempt logged)"}
	}
	s := Side{Outcome: a.Outcome, Status: a.Final}
	for _, r := range recs {
		if closedBeforeHello(&r) {
			s.SNI = sniUnobservable
			break
		}
		if r.ClientHello != nil {
			s.SNI = "none"
			if r.ClientHello.SNI != nil {
				s.SNI = *r.ClientHello.SNI
			}
			break
		}
	}
	return s
}

// mtaDiffs lists how prediction and observation differ: the outcome,
// the profile's message msg (found says whether findMessage found it in
// the attempt's lines), and the SNI.
func mtaDiffs(pred, obs Side, msg string, found bool) []string {
	var diffs []string
	if pred.Outcome != obs.Outcome {
		diffs = append(diffs, fmt.Sprintf("outcome %s ≠ %s", pred.Outcome, obs.Outcome))
	}
	if !found {
		diffs = append(diffs, fmt.Sprintf("message %q not in the log", Normalize(msg)))
	}
	if pred.SNI != obs.SNI && obs.SNI != sniUnobservable {
		diffs = append(diffs, fmt.Sprintf("SNI %s ≠ %s", orDash(pred.SNI), orDash(obs.SNI)))
	}
	return diffs
}

// withoutReply replaces, in a predicted message, the lab's reply to the
// prediction's message (the profiles' {reply}) with "...": it is the
// lab's text, with the lab's queue id for that message, not the
// sender's, as the Postfix table leaves out the 250 text. The MTAs
// compared word for word (Exim, sendmail) keep it, queue id normalised.
func withoutReply(msg string, rep *sender.Report) string {
	if rep == nil {
		return msg
	}
	reply := ""
	for _, l := range rep.Transcript {
		if r, ok := strings.CutPrefix(l, "S: 2"); ok && !strings.HasPrefix(r, "21 ") && !strings.HasPrefix(r, "20 ") {
			reply = "2" + r
		}
	}
	if reply == "" || strings.HasPrefix(reply, "250-") {
		return msg
	}
	// The reply as the MTA quotes it: whole (Exim's C="..."), or
	// without its code and enhanced code (sendmail's stat=Sent (...)).
	text := strings.TrimPrefix(reply, "250 ")
	if f := strings.Fields(text); len(f) > 1 && regexp.MustCompile(`^2\.\d+\.\d+$`).MatchString(f[0]) {
		text = strings.TrimSpace(strings.TrimPrefix(text, f[0]))
	}
	if strings.Contains(msg, reply) {
		return strings.Replace(msg, reply, "...", 1)
	}
	return strings.Replace(msg, text, "...", 1)
}

// findMessage looks for a profile's message in an attempt's log lines.
// A message may join several log lines with "; " (sendmail's profile
// does); each part must be found in one line, after Normalize, with the
// profile's "..." standing for any text. It returns the lines found.
func findMessage(msg string, lines []string) ([]string, bool) {
	if msg == "" {
		return nil, false
	}
	var found []string
	for _, part := range strings.Split(msg, "; ") {
		re := messageRE(part)
		hit := ""
		for _, l := range lines {
			if re.MatchString(Normalize(l)) {
				hit = l
				break
			}
		}
		if hit == "" {
			return nil, false
		}
		if len(found) == 0 || found[len(found)-1] != hit {
			found = append(found, hit)
		}
	}
	return found, true
}

// messageRE is a profile message part as a pattern over normalised log
// lines: its literal text, with "..." as any text.
func messageRE(part string) *regexp.Regexp {
	pieces := strings.Split(Normalize(part), "...")
	for i, p := range pieces {
		pieces[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(strings.Join(pieces, ".*"))
}

// mtaLabAgrees checks the lab's records against the MTA's log: a message
// to the cell's recipient received exactly when the MTA logged a
// delivery, over TLS exactly when the MTA logged TLS for it.
func mtaLabAgrees(mta string, c *mtaCell, a *mtaAttempt, recs []server.Record) []string {
	if a == nil {
		return nil
	}
	var got *server.Record
	for i := range recs {
		if m := recs[i].Message; m != nil && contains(m.To, c.rcpt()) {
			got = &recs[i]
		}
	}
	delivered := isDelivered(a.Outcome)
	switch {
	case delivered && got == nil:
		return []string{fmt.Sprintf("%s logged a delivery, but no lab record has the message", mta)}
	case !delivered && got != nil:
		return []string{fmt.Sprintf("the lab received the message, but %s logged %s", mta, a.Outcome)}
	case got != nil && (got.TLS != nil) != a.TLS:
		return []string{fmt.Sprintf("lab record tls=%v but %s logged TLS=%v", got.TLS != nil, mta, a.TLS)}
	}
	return nil
}

// mtaEvidence is what a differing cell rests on: the MTA's log lines for
// the message, its -v output, the lab's records, and the prediction's
// transcript.
func mtaEvidence(r *mtaRun, c *mtaCell, mta string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s log (%s):\n", mta, r.log)
	for i, a := range c.attempts {
		fmt.Fprintf(&b, "    attempt %d:\n", i+1)
		for _, l := range a.Lines {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	for _, step := range []string{"first", "retry"} {
		if v, err := os.ReadFile(verboseFile(r.verbose, step, c.rcpt())); err == nil {
			fmt.Fprintf(&b, "  %s -v (%s):\n", mta, step)
			sc := bufio.NewScanner(strings.NewReader(string(v)))
			for sc.Scan() {
				fmt.Fprintf(&b, "    %s\n", sc.Text())
			}
		}
	}
	writeLabAndPrediction(&b, c.records, c.pred)
	return b.String()
}

// verboseFile is where a run's script writes the MTA's -v output of one
// step for one recipient.
func verboseFile(dir, step, rcpt string) string {
	return dir + "/" + step + "-" + rcpt + ".txt"
}

// reportMTA prints the table, writes it to the file named by env when
// set, and fails the test once per differing cell with its evidence.
func reportMTA(t *testing.T, r *mtaRun, cells []*mtaCell, mta, header, env string) {
	t.Helper()
	var table []Cell
	owner := map[int]*mtaCell{}
	for _, c := range cells {
		for _, tc := range compareMTA(r, c, mta) {
			owner[len(table)] = c
			table = append(table, tc)
		}
	}
	// Markdown names Postfix in its header; this table is the MTA's.
	md := strings.Replace(Markdown(table), "observed (Postfix)", "observed ("+mta+")", 1)
	t.Logf("fidelity:\n\n%s%s", header, md)
	if path := os.Getenv(env); path != "" {
		if err := os.WriteFile(path, []byte(header+md), 0o644); err != nil {
			t.Errorf("interop: %s: %v", env, err)
		}
	}
	for i, tc := range table {
		if !tc.Match() {
			t.Errorf("%s × %s (%s attempt) differs: %s\n  predicted (mxlab send): %s\n  observed (%s): %s\n  lab saw: %s\n%s",
				tc.Profile, tc.Scenario, tc.Attempt, strings.Join(tc.Diffs, "; "), tc.Predicted, mta, tc.Observed, tc.Lab, mtaEvidence(r, owner[i], mta))
		}
	}
}

// testMessage is the message injected for a recipient.
func testMessage(mta, rcpt string) string {
	return fmt.Sprintf("From: <sender@client.lab.test>\nTo: <%s>\nSubject: mxlab interop %s\n\nA test message from %s.\n", rcpt, mta, mta)
}

// debPackageVersion is the version in a .deb's file name
// (pkg_VERSION_ARCH.deb, as apt-get download names it).
func debPackageVersion(path string) string {
	if parts := strings.Split(filepath.Base(path), "_"); len(parts) == 3 {
		return strings.ReplaceAll(parts[1], "%3a", ":")
	}
	return filepath.Base(path)
}
