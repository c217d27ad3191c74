package server

import (
	"fmt"
	"sync"
	"time"
)

// Side says who sent what a transcript step shows.
type Side string

// Sides of a transcript step.
const (
	FromClient Side = "client"
	FromServer Side = "server"
	// FromLab is the lab's own remark, sent to nobody.
	FromLab Side = "lab"
)

// StepKind says what a transcript step is (docs/api.md, Event).
type StepKind string

// Transcript step kinds.
const (
	// StepLine is one SMTP line as sent, without its CRLF.
	StepLine StepKind = "line"
	// StepBody is a DATA body or a BDAT chunk, by its size.
	StepBody StepKind = "body"
	// StepTLSRecord is one TLS record seen during STARTTLS.
	StepTLSRecord StepKind = "tls-record"
	// StepTLSEstablished is a completed handshake.
	StepTLSEstablished StepKind = "tls-established"
	// StepNote is something the lab noticed.
	StepNote StepKind = "note"
	// StepClose is the end of the session.
	StepClose StepKind = "close"
)

// Step is one event of a session's transcript.
type Step struct {
	Seq  int       `json:"seq"`
	At   time.Time `json:"at"`
	From Side      `json:"from"`
	Kind StepKind  `json:"kind"`
	Text string    `json:"text,omitempty"`
	// TLS is true for a line that went inside TLS.
	TLS bool `json:"tls"`
	// Size is a body's size in bytes, as it came over the wire.
	Size int64 `json:"size,omitempty"`
	// SNI is the server name the client sent (tls-established).
	SNI string `json:"sni,omitempty"`
	// Record is a TLS record's header (tls-record).
	Record *TLSRecord `json:"record,omitempty"`
}

// Transcript bounds: a client that talks for ever (a long NOOP loop, a
// slow-drip attack) must not grow the lab's memory without limit.
const (
	MaxTranscriptSteps = 1000
	MaxTranscriptText  = 64 << 10
)

// Transcript is what both sides of one session sent, in order. It is
// written by the session's goroutine and read by anyone (the API shows a
// running session's transcript).
type Transcript struct {
	mu        sync.Mutex
	steps     []Step
	text      int
	truncated bool
	publish   func(Step)
}

// TranscriptJSON is a transcript's shape in the API.
type TranscriptJSON struct {
	Events    []Step `json:"events"`
	Truncated bool   `json:"truncated"`
}

// add appends a step, unless the transcript is full: then the first
// step over the bound becomes a note that says so, and only the close
// still gets in, so the end of the session always shows.
func (t *Transcript) add(s Step) {
	t.mu.Lock()
	size := len(s.Text) + 64
	full := len(t.steps) >= MaxTranscriptSteps || t.text+size > MaxTranscriptText
	if full && s.Kind != StepClose {
		if t.truncated {
			t.mu.Unlock()
			return
		}
		t.truncated = true
		s = Step{At: s.At, From: FromLab, Kind: StepNote,
			Text: fmt.Sprintf("transcript truncated after %d events (%d bytes); later events are not recorded", len(t.steps), t.text)}
	}
	s.Seq = len(t.steps)
	t.steps = append(t.steps, s)
	t.text += size
	publish := t.publish
	t.mu.Unlock()
	if publish != nil {
		publish(s)
	}
}

// Snapshot returns a copy of the transcript so far.
func (t *Transcript) Snapshot() TranscriptJSON {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TranscriptJSON{Events: append([]Step{}, t.steps...), Truncated: t.truncated}
}

// step records one event of the session, stamped with the lab's clock.
func (c *conn) step(s Step) {
	s.At = c.srv.cfg.Now().UTC()
	c.transcript.add(s)
}

// lineStep records one SMTP line; the caller has redacted it.
func (c *conn) lineStep(from Side, line string) {
	c.step(Step{From: from, Kind: StepLine, Text: line, TLS: c.tls != nil})
}

// closeStep records who ended the session and why.
func (c *conn) closeStep(end EndReason) {
	from := FromClient
	if end == EndClosedByLab || end == EndTimeout {
		from = FromServer
	}
	c.step(Step{From: from, Kind: StepClose, Text: string(end), TLS: c.tls != nil})
}
