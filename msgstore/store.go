// Package msgstore keeps the messages the lab accepts: in memory, bounded
// by count and by bytes with the oldest dropped first, or in a Maildir
// spool on disk, where each message is fsynced before the lab answers
// 250, so that a message acknowledged is never lost, even to a SIGKILL.
//
// A stored message is the message as received (after SMTP dot-unstuffing)
// behind the trace header fields a delivery agent adds (RFC 5321 §4.4:
// Return-Path; Delivered-To as Postfix's local(8) writes it) and the
// lab's own (X-Mxlab-Session, X-Mxlab-Scenario, X-Mxlab-Received, always
// last), from which a restarted lab rebuilds its index (trace.go).
package msgstore

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned for an unknown message id.
var ErrNotFound = errors.New("msgstore: no such message")

// Default bounds of an in-memory store.
const (
	DefaultMaxMessages = 1000
	DefaultMaxBytes    = 100 << 20
)

// Config configures a store; zero values work.
type Config struct {
	// Spool is a Maildir directory (created if missing); "" keeps
	// messages in memory only.
	Spool string
	// MaxMessages and MaxBytes bound the store; the oldest messages are
	// dropped first. The first drop is logged, then every
	// DropLogInterval-th, with the count so far. Zero takes the defaults
	// in memory and means no bound with a spool (a spool is what the
	// user asked to keep); negative means no bound.
	MaxMessages int
	MaxBytes    int64
	// Logger receives the drop lines; nil discards.
	Logger *slog.Logger
	// OnDeliver, if set, is called after each message is stored.
	OnDeliver func(Message)
}

// Envelope is what the SMTP session says about a message.
type Envelope struct {
	Session  string
	Scenario string
	From     string
	To       []string
	Received time.Time
}

// Header is one header field, unfolded.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message describes a stored message (docs/api.md, Message).
type Message struct {
	ID       string    `json:"id"`
	Session  string    `json:"session"`
	Scenario string    `json:"scenario"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Received time.Time `json:"received"`
	// Size is the message as received, without the trace fields.
	Size    int64    `json:"size"`
	Subject string   `json:"subject"`
	Headers []Header `json:"headers,omitempty"`
}

// entry is one stored message: raw is the stored bytes in memory, path
// the file in a spool.
type entry struct {
	msg   Message
	raw   []byte
	path  string
	bytes int64 // what counts against MaxBytes: the stored size
}

// Store keeps messages; it is safe for concurrent use.
type Store struct {
	cfg    Config
	logger *slog.Logger
	// dropped counts the messages enforce dropped (under mu).
	dropped uint64
	spool   *maildir

	mu      sync.Mutex
	entries []*entry // oldest first
	byID    map[string]*entry
	bytes   int64
}

// Open opens a store; with a spool it lists the messages already there.
func Open(cfg Config) (*Store, error) {
	if cfg.Spool == "" {
		if cfg.MaxMessages == 0 {
			cfg.MaxMessages = DefaultMaxMessages
		}
		if cfg.MaxBytes == 0 {
			cfg.MaxBytes = DefaultMaxBytes
		}
	}
	s := &Store{cfg: cfg, logger: cfg.Logger, byID: map[string]*entry{}}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Spool != "" {
		md, err := openMaildir(cfg.Spool)
		if err != nil {
			return nil, err
		}
		s.spool = md
		found, err := md.scan(s.logger)
		if err != nil {
			return nil, err
		}
		sort.SliceStable(found, func(i, j int) bool {
			if !found[i].msg.Received.Equal(found[j].msg.Received) {
				return found[i].msg.Received.Before(found[j].msg.Received)
			}
			return found[i].msg.ID < found[j].msg.ID
		})
		for _, e := range found {
			s.insert(e)
		}
		s.mu.Lock()
		s.enforce()
		s.mu.Unlock()
	}
	return s, nil
}

// Spool returns the spool directory, "" for a store in memory.
func (s *Store) Spool() string { return s.cfg.Spool }

// Deliver stores one message. With a spool it returns only once the
// message file and its directory entry are on disk.
func (s *Store) Deliver(env Envelope, body []byte) (Message, error) {
	env.Received = env.Received.UTC()
	raw := append(traceFields(env), body...)
	id := newID(env.Received)
	e := &entry{
		msg: Message{ID: id, Session: env.Session, Scenario: env.Scenario, From: env.From,
			To: append([]string{}, env.To...), Received: env.Received, Size: int64(len(body))},
		bytes: int64(len(raw)),
	}
	if e.msg.To == nil {
		e.msg.To = []string{}
	}
	hdrs, _ := parseHeader(body)
	e.msg.Subject = subject(hdrs)
	if s.spool != nil {
		path, err := s.spool.deliver(id, raw)
		if err != nil {
			return Message{}, err
		}
		e.path = path
	} else {
		e.raw = raw
	}
	s.mu.Lock()
	s.insert(e)
	s.enforce()
	s.mu.Unlock()
	if s.cfg.OnDeliver != nil {
		s.cfg.OnDeliver(e.msg)
	}
	return e.msg, nil
}

// insert adds an entry; the caller holds the lock or owns the store.
func (s *Store) insert(e *entry) {
	s.entries = append(s.entries, e)
	s.byID[e.msg.ID] = e
	s.bytes += e.bytes
}

// DropLogInterval: after the first drop, one line per this many. A store
// at its bound drops a message for every message it takes, and a line
// each was a log write per message under load (issue 14's profile: the
// lab's second-largest log cost).
const DropLogInterval = 1000

// enforce drops the oldest messages until the store is within its
// bounds; the newest message always stays, even if it alone is over.
func (s *Store) enforce() {
	over := func() bool {
		return s.cfg.MaxMessages > 0 && len(s.entries) > s.cfg.MaxMessages ||
			s.cfg.MaxBytes > 0 && s.bytes > s.cfg.MaxBytes
	}
	for len(s.entries) > 1 && over() {
		e := s.entries[0]
		s.entries = s.entries[1:]
		delete(s.byID, e.msg.ID)
		s.bytes -= e.bytes
		if e.path != "" {
			s.spool.remove(e.path)
		}
		if s.dropped++; s.dropped == 1 || s.dropped%DropLogInterval == 0 {
			s.logger.Warn("msgstore: dropped the oldest message to stay within the store's bounds",
				"id", e.msg.ID, "session", e.msg.Session, "size", e.bytes, "dropped", s.dropped,
				"max_messages", s.cfg.MaxMessages, "max_bytes", s.cfg.MaxBytes)
		}
	}
}

// List returns every message, newest first, without headers.
func (s *Store) List() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.entries))
	for i := len(s.entries) - 1; i >= 0; i-- {
		out = append(out, s.entries[i].msg)
	}
	return out
}

// Get returns one message with its header fields.
func (s *Store) Get(id string) (Message, error) {
	s.mu.Lock()
	e, ok := s.byID[id]
	s.mu.Unlock()
	if !ok {
		return Message{}, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	raw, err := s.read(e)
	if err != nil {
		return Message{}, err
	}
	m := e.msg
	_, body := splitTrace(raw)
	m.Headers, _ = parseHeader(body)
	if m.Headers == nil {
		m.Headers = []Header{}
	}
	return m, nil
}

// Raw returns the message as stored: the trace fields, then the message.
func (s *Store) Raw(id string) ([]byte, error) {
	s.mu.Lock()
	e, ok := s.byID[id]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	return s.read(e)
}

func (s *Store) read(e *entry) ([]byte, error) {
	if e.path == "" {
		return e.raw, nil
	}
	return s.spool.read(e.path, e.msg.ID)
}

// Clear deletes every message (their spool files too) and returns how
// many there were.
func (s *Store) Clear() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.entries)
	var errs []error
	for _, e := range s.entries {
		if e.path != "" {
			errs = append(errs, s.spool.remove(e.path))
		}
	}
	s.entries, s.byID, s.bytes = nil, map[string]*entry{}, 0
	return n, errors.Join(errs...)
}

// subject returns the Subject field's value, "" without one.
func subject(hdrs []Header) string {
	for _, h := range hdrs {
		if strings.EqualFold(h.Name, "Subject") {
			return h.Value
		}
	}
	return ""
}
