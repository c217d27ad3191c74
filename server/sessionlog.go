package server

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// SessionLog keeps finished session records: the newest ones in memory
// (bounded) and every one appended as a JSON line to a file, so tests and
// scripts outside the process can assert on what a client did. It also
// keeps the transcripts of the newest sessions and of the running ones,
// and tells watchers of every session's start, steps and end.
type SessionLog struct {
	mu     sync.Mutex
	recent recordRing
	next   int
	file   *os.File
	path   string
	// watchers is a copy-on-write list read without the lock: a step of
	// any session notifies them, and a lock and an allocation per step
	// cost a few percent of every session (issue 14's profile).
	watchers atomic.Pointer[[]watcher]
	nextW    int

	active      map[string]*activeSession
	transcripts map[string]*Transcript
	order       []string // ids with a kept transcript, oldest first
}

// activeSession is a running session as the API shows it.
type activeSession struct {
	rec        Record // the fields known at the start
	transcript *Transcript
}

// DefaultKeep is how many records a SessionLog keeps in memory by default.
const DefaultKeep = 10000

// DefaultKeepBytes bounds the records kept in memory by the size of
// their JSON lines: 100 commands of 2 KB make a 200 KB record, and
// 10,000 of those would not fit in a laptop.
const DefaultKeepBytes = 64 << 20

// KeepTranscripts is how many finished sessions keep their transcript:
// fewer than records, since a transcript can be 64 KiB.
const KeepTranscripts = 1000

// EventType says what an Event reports.
type EventType string

// Event types, as the API's event stream names them.
const (
	SessionStart EventType = "session-start"
	SessionStep  EventType = "session-step"
	SessionEnd   EventType = "session-end"
)

// Event is one thing that happened to a session. Record is set for a
// start (the fields known then) and an end (the whole record), Step for
// a step.
type Event struct {
	Type     EventType `json:"-"`
	Session  string    `json:"session"`
	Scenario string    `json:"scenario"`
	Record   *Record   `json:"record,omitempty"`
	Step     *Step     `json:"step,omitempty"`
}

// NewSessionLog starts a log; path "" keeps records in memory only. An
// existing file is started afresh: a sessions file describes one lab run.
func NewSessionLog(path string, keep int) (*SessionLog, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	l := &SessionLog{recent: recordRing{maxN: keep, maxBytes: DefaultKeepBytes}, path: path,
		active: map[string]*activeSession{}, transcripts: map[string]*Transcript{}}
	if path != "" {
		f, err := openJSONLines(path)
		if err != nil {
			return nil, fmt.Errorf("server: sessions file: %w", err)
		}
		l.file = f
	}
	return l, nil
}

// Path returns the sessions file, "" when there is none.
func (l *SessionLog) Path() string { return l.path }

// ContinueAfter makes the next ids follow the highest of ids (ids of
// earlier runs, from the messages a spool kept), so that no id names two
// sessions; ids not in the s-NNNNNN form are ignored.
func (l *SessionLog) ContinueAfter(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		digits, ok := strings.CutPrefix(id, "s-")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(digits); err == nil && n > l.next {
			l.next = n
		}
	}
}

// newID hands out the next session id ("s-000042").
func (l *SessionLog) newID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	return fmt.Sprintf("s-%06d", l.next)
}

// start registers a running session and returns its transcript, which
// reports each step to the watchers that take steps (Watch).
func (l *SessionLog) start(rec Record) *Transcript {
	id, scenario := rec.ID, rec.Scenario // not rec: the closure would keep a copy
	t := &Transcript{watched: l.stepWatched, publish: func(s Step) { l.notifyStep(id, scenario, s) }}
	l.mu.Lock()
	l.active[rec.ID] = &activeSession{rec: rec, transcript: t}
	l.mu.Unlock()
	l.notify(Event{Type: SessionStart, Session: rec.ID, Scenario: rec.Scenario, Record: &rec})
	return t
}

// add stores a finished record and appends it to the file. One write per
// record, under the lock, so lines never interleave.
func (l *SessionLog) add(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("server: encoding session %s: %w", r.ID, err)
	}
	l.mu.Lock()
	l.recent.push(r, len(line))
	if a, ok := l.active[r.ID]; ok {
		delete(l.active, r.ID)
		l.transcripts[r.ID] = a.transcript
		l.order = append(l.order, r.ID)
		for len(l.order) > KeepTranscripts {
			delete(l.transcripts, l.order[0])
			l.order = l.order[1:]
		}
	}
	if l.file != nil {
		err = appendLine(l.file, line)
	}
	l.mu.Unlock()
	l.notify(Event{Type: SessionEnd, Session: r.ID, Scenario: r.Scenario, Record: &r})
	if err != nil {
		return fmt.Errorf("server: sessions file: %w", err)
	}
	return nil
}

// notify calls every watcher, outside the lock, in the session's own
// goroutine: the events of one session arrive in order.
func (l *SessionLog) notify(e Event) {
	ws := l.watchers.Load()
	if ws == nil {
		return
	}
	for _, w := range *ws {
		if e.Type != SessionStep || w.steps {
			w.fn(e)
		}
	}
}

// notifyStep builds a step's event only when someone watches steps.
func (l *SessionLog) notifyStep(id, scenario string, s Step) {
	l.notify(Event{Type: SessionStep, Session: id, Scenario: scenario, Step: &s})
}

// stepWatched says whether any watcher takes steps.
func (l *SessionLog) stepWatched() bool {
	ws := l.watchers.Load()
	if ws == nil {
		return false
	}
	for _, w := range *ws {
		if w.steps {
			return true
		}
	}
	return false
}

// watcher is one Watch or WatchSessions registration.
type watcher struct {
	id    int
	fn    func(Event)
	steps bool
}

// Watch calls fn for every session event until stop is called. fn runs
// in the session's goroutine and must not block: a watcher that needs
// time hands the event on (and drops what it cannot take).
func (l *SessionLog) Watch(fn func(Event)) (stop func()) {
	return l.watch(fn, true)
}

// WatchSessions is Watch without the steps: each session's start and
// end only (metrics, waits), so that nobody pays for steps no one reads.
func (l *SessionLog) WatchSessions(fn func(Event)) (stop func()) {
	return l.watch(fn, false)
}

func (l *SessionLog) watch(fn func(Event), steps bool) (stop func()) {
	l.mu.Lock()
	id := l.nextW
	l.nextW++
	l.setWatchers(func(ws []watcher) []watcher { return append(ws, watcher{id: id, fn: fn, steps: steps}) })
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.setWatchers(func(ws []watcher) []watcher {
			return slices.DeleteFunc(ws, func(w watcher) bool { return w.id == id })
		})
		l.mu.Unlock()
	}
}

// setWatchers replaces the list with edit's result on a copy; the
// caller holds the lock.
func (l *SessionLog) setWatchers(edit func([]watcher) []watcher) {
	var ws []watcher
	if cur := l.watchers.Load(); cur != nil {
		ws = slices.Clone(*cur)
	}
	ws = edit(ws)
	l.watchers.Store(&ws)
}

// Records returns the records kept in memory, oldest first.
func (l *SessionLog) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recent.all()
}

// Session returns a session by id: its record (the fields known at the
// start while it runs), whether it is still running, and its transcript
// (nil when it is no longer kept). ok is false for an unknown id.
func (l *SessionLog) Session(id string) (rec Record, active bool, t *Transcript, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, found := l.active[id]; found {
		return a.rec, true, a.transcript, true
	}
	if r, found := l.recent.find(id); found {
		return r, false, l.transcripts[id], true
	}
	return Record{}, false, nil, false
}

// Clear forgets the finished records and transcripts kept in memory (the
// sessions file keeps its lines) and returns how many records it forgot.
func (l *SessionLog) Clear() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.recent.n
	l.recent.clear()
	l.transcripts = map[string]*Transcript{}
	l.order = nil
	return n
}

// Subscribe returns a channel that receives each record as it finishes
// (buffered; records are dropped for a subscriber that falls behind).
func (l *SessionLog) Subscribe(buffer int) <-chan Record {
	ch := make(chan Record, buffer)
	l.WatchSessions(func(e Event) {
		if e.Type != SessionEnd {
			return
		}
		select {
		case ch <- *e.Record:
		default: // a slow subscriber loses records rather than stalling the lab
		}
	})
	return ch
}

// Close closes the sessions file.
func (l *SessionLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}

// Active returns how many sessions are running (tests wait for none,
// instead of sleeping).
func (l *SessionLog) Active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.active)
}

// Watchers returns how many watchers are registered (tests wait on it
// instead of sleeping).
func (l *SessionLog) Watchers() int {
	if ws := l.watchers.Load(); ws != nil {
		return len(*ws)
	}
	return 0
}

// recordRing keeps the newest records, bounded by count and by the size
// of their JSON lines. Adding one moves nothing: issue 14 measured 45 %
// of the lab's CPU in copying every kept record for each new session.
type recordRing struct {
	maxN     int
	maxBytes int
	buf      []keptRecord // grows up to maxN, then wraps
	start, n int          // the oldest record's index, how many are kept
	bytes    int
}

type keptRecord struct {
	rec  Record
	size int
}

// push keeps r (its JSON line has size bytes), dropping the oldest
// records while either bound is exceeded; the newest always stays.
func (q *recordRing) push(r Record, size int) {
	if q.n == len(q.buf) && len(q.buf) < q.maxN {
		grown := make([]keptRecord, min(max(2*len(q.buf), 64), q.maxN))
		for i := range q.n {
			grown[i] = q.buf[(q.start+i)%len(q.buf)]
		}
		q.buf, q.start = grown, 0
	}
	if q.n == len(q.buf) {
		q.pop()
	}
	q.buf[(q.start+q.n)%len(q.buf)] = keptRecord{rec: r, size: size}
	q.n++
	q.bytes += size
	for q.bytes > q.maxBytes && q.n > 1 {
		q.pop()
	}
}

func (q *recordRing) pop() {
	q.bytes -= q.buf[q.start].size
	q.buf[q.start] = keptRecord{} // let the record go
	q.start = (q.start + 1) % len(q.buf)
	q.n--
}

// all returns the kept records, oldest first.
func (q *recordRing) all() []Record {
	out := make([]Record, q.n)
	for i := range q.n {
		out[i] = q.buf[(q.start+i)%len(q.buf)].rec
	}
	return out
}

// find returns the kept record with this id, looking from the newest.
func (q *recordRing) find(id string) (Record, bool) {
	for i := q.n - 1; i >= 0; i-- {
		if r := q.buf[(q.start+i)%len(q.buf)].rec; r.ID == id {
			return r, true
		}
	}
	return Record{}, false
}

func (q *recordRing) clear() {
	q.buf, q.start, q.n, q.bytes = nil, 0, 0, 0
}
