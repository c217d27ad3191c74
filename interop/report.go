package interop

import (
	"fmt"
	"strings"
)

// Side is one side of a cell: what mxlab predicted, or what the real MTA
// did.
type Side struct {
	// Outcome is delivered, delivered-plaintext, deferred or bounced.
	Outcome string
	// Status is the status line's "dsn=..., status=... (text)"; for a
	// delivery only "dsn=2.0.0, status=sent" (the server's 250 text is
	// the lab's, not the sender's).
	Status string
	// SNI is the server name in the ClientHello: a name, "none", or ""
	// where there was no handshake.
	SNI string
	// Note is shown but not compared (Postfix's TLS trust word, the
	// attempt's delay).
	Note string
}

func (s Side) String() string {
	parts := []string{s.Outcome}
	if s.Status != "" {
		parts = append(parts, s.Status)
	}
	if s.SNI != "" {
		parts = append(parts, "SNI "+s.SNI)
	}
	if s.Note != "" {
		parts = append(parts, s.Note)
	}
	return strings.Join(parts, "; ")
}

// Cell is one profile × scenario comparison (one attempt).
type Cell struct {
	Profile  string
	Scenario string
	// Attempt is "first", or "retry" for the attempt after
	// minimal_backoff_time (docs/interop-recipe.md §6a): the message's second
	// status= line, after the test lowered the backoff and flushed the
	// queue (postfixInstance.retry).
	Attempt   string
	Predicted Side
	Observed  Side
	// Lab summarises the lab's session records of the attempt's
	// connections.
	Lab string
	// Diffs says what differs; empty when the cell matches.
	Diffs []string
}

// Match says whether prediction and reality agree.
func (c Cell) Match() bool { return len(c.Diffs) == 0 }

// Markdown renders the cells as a table with the count of matching
// cells.
func Markdown(cells []Cell) string {
	var b strings.Builder
	b.WriteString("| profile | scenario | attempt | predicted (mxlab send) | observed (Postfix) | lab session records | match |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	matching := 0
	for _, c := range cells {
		match := "yes"
		if c.Match() {
			matching++
		} else {
			match = "**no**: " + strings.Join(c.Diffs, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", c.Profile, c.Scenario, c.Attempt,
			cellText(c.Predicted.String()), cellText(c.Observed.String()), cellText(c.Lab), cellText(match))
	}
	fmt.Fprintf(&b, "\n**%d of %d cells match.**\n", matching, len(cells))
	return b.String()
}

// cellText keeps a value on one table row.
func cellText(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
