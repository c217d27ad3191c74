package mxlabtest

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/mxlab/mxlab/server"
)

// Filter selects sessions; its zero value matches every one.
type Filter struct {
	// Scenario, when set, is the scenario the session ran.
	Scenario string
	// Remote, when set, is the client's address: an IP, or IP:port.
	Remote string
	// Since, when set, keeps sessions that ended after it. Zero takes
	// sessions that ended already too, the newest first.
	Since time.Time
	// Match, when set, must also hold.
	Match func(server.Record) bool
}

// Matches says whether a record passes the filter.
func (f Filter) Matches(r server.Record) bool {
	if f.Scenario != "" && r.Scenario != f.Scenario {
		return false
	}
	if f.Remote != "" && r.Remote != f.Remote {
		if host, _, err := net.SplitHostPort(r.Remote); err != nil || host != f.Remote {
			return false
		}
	}
	if !f.Since.IsZero() && !r.Ended.After(f.Since) {
		return false
	}
	return f.Match == nil || f.Match(r)
}

// WaitSession returns a session that matches f: the newest of those that
// ended already, else the first to end from now, waiting until one ends
// or ctx is done. A test bounds it with its context, never with a sleep.
// A test that makes several sessions of one scenario tells them apart
// with Since (a time taken before the action) or Remote.
func (l *Lab) WaitSession(ctx context.Context, f Filter) (server.Record, error) {
	ended := make(chan server.Record, 1)
	// Watch before looking at what ended already, so that a session
	// ending in between is seen by one or the other.
	stop := l.Lab.Sessions().WatchSessions(func(e server.Event) {
		if e.Type != server.SessionEnd || e.Record == nil || !f.Matches(*e.Record) {
			return
		}
		select {
		case ended <- *e.Record:
		default: // one is enough
		}
	})
	defer stop()
	recs := l.Sessions()
	for i := len(recs) - 1; i >= 0; i-- {
		if f.Matches(recs[i]) {
			return recs[i], nil
		}
	}
	select {
	case r := <-ended:
		return r, nil
	case <-ctx.Done():
		return server.Record{}, fmt.Errorf("mxlabtest: no session matched %+v: %w", f, ctx.Err())
	}
}
