package server

import (
	"fmt"
	"slices"
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
// running session's transcript). It keeps each step packed (packedStep) and
// builds the Step only when one is shown: a Step takes 120 bytes and a
// TLS record's another hundred, and a running session keeps a few dozen
// (issue 14: memory per idle TLS connection).
type Transcript struct {
	mu        sync.Mutex
	steps     []packedStep
	sni       string // the one tls-established step's SNI
	text      int
	truncated bool
	// publish reports each step while watched says someone takes steps.
	publish func(Step)
	watched func() bool
}

// packedStep is a Step as the transcript keeps it.
type packedStep struct {
	at   int64 // Unix nanoseconds, 0 for none
	text string
	size int64
	rec  recordHeader // kind tls-record
	from uint8        // index in sides
	kind uint8        // index in stepKinds
	tls  bool
}

// sides and stepKinds number the values a step packs.
var (
	sides     = []Side{FromClient, FromServer, FromLab}
	stepKinds = []StepKind{StepLine, StepBody, StepTLSRecord, StepTLSEstablished, StepNote, StepClose}
)

// index is v's place in vs; a value the lab does not define packs as
// the first.
func index[T comparable](vs []T, v T) uint8 {
	return uint8(max(0, slices.Index(vs, v)))
}

// pack is s as the transcript keeps it; a Step's Record is not kept
// (records come through addRecord).
func (t *Transcript) pack(s Step) packedStep {
	st := packedStep{text: s.Text, size: s.Size, tls: s.TLS,
		from: index(sides, s.From), kind: index(stepKinds, s.Kind)}
	if !s.At.IsZero() {
		st.at = s.At.UnixNano()
	}
	if s.Kind == StepTLSEstablished {
		t.sni = s.SNI
	}
	return st
}

// unpack is the Step st stands for, the seq-th of the transcript.
func (t *Transcript) unpack(seq int, st packedStep) Step {
	s := Step{Seq: seq, From: sides[st.from], Kind: stepKinds[st.kind], Text: st.text, TLS: st.tls, Size: st.size}
	if st.at != 0 {
		s.At = time.Unix(0, st.at).UTC()
	}
	switch s.Kind {
	case StepTLSRecord:
		r := st.rec.describe()
		s.Record = &r
	case StepTLSEstablished:
		s.SNI = t.sni
	}
	return s
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
	t.addLocked(t.pack(s), len(s.Text)+64)
}

// addRecord appends the step of one TLS record that went by.
func (t *Transcript) addRecord(at time.Time, from Side, h recordHeader) {
	t.mu.Lock()
	st := packedStep{rec: h, from: index(sides, from), kind: index(stepKinds, StepTLSRecord)}
	if !at.IsZero() {
		st.at = at.UnixNano()
	}
	t.addLocked(st, 64)
}

// addLocked appends st, whose size counts against the bound, and
// unlocks t.
func (t *Transcript) addLocked(st packedStep, size int) {
	full := len(t.steps) >= MaxTranscriptSteps || t.text+size > MaxTranscriptText
	if full && stepKinds[st.kind] != StepClose {
		if t.truncated {
			t.mu.Unlock()
			return
		}
		t.truncated = true
		st = packedStep{at: st.at, from: index(sides, FromLab), kind: index(stepKinds, StepNote),
			text: fmt.Sprintf("transcript truncated after %d events (%d bytes); later events are not recorded", len(t.steps), t.text)}
	}
	seq := len(t.steps)
	t.steps = append(t.steps, st)
	t.text += size
	publish := t.publish
	if publish != nil && t.watched != nil && !t.watched() {
		publish = nil
	}
	var s Step
	if publish != nil {
		s = t.unpack(seq, st)
	}
	t.mu.Unlock()
	if publish != nil {
		publish(s)
	}
}

// Snapshot returns a copy of the transcript so far.
func (t *Transcript) Snapshot() TranscriptJSON {
	t.mu.Lock()
	defer t.mu.Unlock()
	events := make([]Step, len(t.steps))
	for i, st := range t.steps {
		events[i] = t.unpack(i, st)
	}
	return TranscriptJSON{Events: events, Truncated: t.truncated}
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
