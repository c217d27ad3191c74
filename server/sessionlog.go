package server

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// SessionLog keeps finished session records: the newest ones in memory
// (bounded) and every one appended as a JSON line to a file, so tests and
// scripts outside the process can assert on what a client did.
type SessionLog struct {
	mu     sync.Mutex
	max    int
	recent []Record
	next   int
	file   *os.File
	path   string
	subs   []chan Record
}

// DefaultKeep is how many records a SessionLog keeps in memory by default.
const DefaultKeep = 10000

// NewSessionLog starts a log; path "" keeps records in memory only. An
// existing file is started afresh: a sessions file describes one lab run.
func NewSessionLog(path string, keep int) (*SessionLog, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	l := &SessionLog{max: keep, path: path}
	if path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("server: sessions file: %w", err)
		}
		l.file = f
	}
	return l, nil
}

// Path returns the sessions file, "" when there is none.
func (l *SessionLog) Path() string { return l.path }

// newID hands out the next session id ("s-000042").
func (l *SessionLog) newID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	return fmt.Sprintf("s-%06d", l.next)
}

// add stores a finished record and appends it to the file. One write per
// record, under the lock, so lines never interleave.
func (l *SessionLog) add(r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("server: encoding session %s: %w", r.ID, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recent = append(l.recent, r)
	if len(l.recent) > l.max {
		l.recent = append(l.recent[:0:0], l.recent[len(l.recent)-l.max:]...)
	}
	for _, ch := range l.subs {
		select {
		case ch <- r:
		default: // a slow subscriber loses records rather than stalling the lab
		}
	}
	if l.file != nil {
		if _, err := l.file.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("server: sessions file: %w", err)
		}
	}
	return nil
}

// Records returns the records kept in memory, oldest first.
func (l *SessionLog) Records() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.recent...)
}

// Subscribe returns a channel that receives each record as it finishes
// (buffered; records are dropped for a subscriber that falls behind).
func (l *SessionLog) Subscribe(buffer int) <-chan Record {
	ch := make(chan Record, buffer)
	l.mu.Lock()
	l.subs = append(l.subs, ch)
	l.mu.Unlock()
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
