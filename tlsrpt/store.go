package tlsrpt

import (
	"sync"
	"time"
)

// How a report arrived (RFC 8460 §3: the rua's scheme).
const (
	ViaHTTPS  = "https"
	ViaMailto = "mailto"
)

// DefaultMaxReports is how many reports a Store keeps by default.
const DefaultMaxReports = 1000

// Received is a report as it arrived.
type Received struct {
	// At is when it arrived.
	At time.Time `json:"received"`
	// Via is ViaHTTPS or ViaMailto.
	Via    string  `json:"via"`
	Report *Report `json:"report"`
}

// Store keeps the newest reports in memory; it is safe for concurrent
// use, and its zero value works.
type Store struct {
	// Max bounds how many reports are kept (default DefaultMaxReports);
	// the oldest go first.
	Max int
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu   sync.Mutex
	list []Received // oldest first
}

// Add keeps a report that arrived via ViaHTTPS or ViaMailto.
func (s *Store) Add(rep *Report, via string) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	max := s.Max
	if max <= 0 {
		max = DefaultMaxReports
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, Received{At: now().UTC(), Via: via, Report: rep})
	if over := len(s.list) - max; over > 0 {
		s.list = append(s.list[:0:0], s.list[over:]...)
	}
}

// List returns the reports kept, newest first (the API's order). The
// reports are shared: callers must not change them.
func (s *Store) List() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.list))
	for i, r := range s.list {
		out[len(s.list)-1-i] = r
	}
	return out
}
