package api

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mxlab/mxlab/server"
)

// sessionQuery is a parsed GET /api/v1/sessions.
type sessionQuery struct {
	scenario string
	remote   string
	since    time.Time
	limit    int
	wait     time.Duration
}

// parseSessionQuery reads the filters; each error names the parameter.
func (a *api) parseSessionQuery(q url.Values) (sessionQuery, error) {
	sq := sessionQuery{scenario: q.Get("scenario"), remote: q.Get("remote"), limit: DefaultLimit}
	if sq.scenario != "" {
		if _, err := a.cfg.Lab.Layout().Site(sq.scenario); err != nil {
			return sq, errors.New("scenario: " + err.Error())
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return sq, errors.New("limit: want a number from 1 to " + strconv.Itoa(MaxLimit) + ", got " + strconv.Quote(v))
		}
		sq.limit = n
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > a.cfg.MaxWait {
			return sq, errors.New("wait: want a duration such as 10s, at most " + a.cfg.MaxWait.String() + ", got " + strconv.Quote(v))
		}
		sq.wait = d
		sq.since = a.cfg.Now()
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return sq, errors.New("since: want an RFC 3339 time such as 2025-05-01T10:00:00Z, got " + strconv.Quote(v))
		}
		sq.since = t
	}
	return sq, nil
}

// match reports whether a finished record passes the filters.
func (sq sessionQuery) match(r *server.Record) bool {
	if sq.scenario != "" && r.Scenario != sq.scenario {
		return false
	}
	if sq.remote != "" && r.Remote != sq.remote {
		if host, _, err := net.SplitHostPort(r.Remote); err != nil || host != sq.remote {
			return false
		}
	}
	return sq.since.IsZero() || r.Ended.After(sq.since)
}

// find returns the matching records, newest first.
func (sq sessionQuery) find(log *server.SessionLog) []server.Record {
	recs := log.Records()
	out := []server.Record{}
	for i := len(recs) - 1; i >= 0 && len(out) < sq.limit; i-- {
		if sq.match(&recs[i]) {
			out = append(out, recs[i])
		}
	}
	return out
}

// listSessions answers GET /api/v1/sessions. With wait it answers at
// once if sessions match, else when the first matching one ends, or
// with an empty list when the time runs out: a CI script's replacement
// for sleep.
func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	sq, err := a.parseSessionQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "%s", err)
		return
	}
	log := a.cfg.Lab.Sessions()
	found := sq.find(log)
	if sq.wait > 0 && len(found) == 0 {
		// Watch before looking again, so that a session ending between
		// the look and the watch is not missed.
		ended := make(chan struct{}, 1)
		stop := log.WatchSessions(func(e server.Event) {
			if e.Type == server.SessionEnd && sq.match(e.Record) {
				select {
				case ended <- struct{}{}:
				default:
				}
			}
		})
		defer stop()
		if found = sq.find(log); len(found) == 0 {
			timer := time.NewTimer(sq.wait)
			defer timer.Stop()
			select {
			case <-ended:
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
			found = sq.find(log)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": found})
}

// deleteSessions answers DELETE /api/v1/sessions.
func (a *api) deleteSessions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int{"deleted": a.cfg.Lab.Sessions().Clear()})
}

// sessionDetail is GET /api/v1/sessions/{id} (docs/api.md, SessionDetail).
type sessionDetail struct {
	Record     server.Record          `json:"record"`
	Active     bool                   `json:"active"`
	Transcript *server.TranscriptJSON `json:"transcript"`
}

func (a *api) getSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, active, t, ok := a.cfg.Lab.Sessions().Session(id)
	if !ok {
		writeError(w, http.StatusNotFound, "no session %q", id)
		return
	}
	d := sessionDetail{Record: rec, Active: active}
	if t != nil {
		snap := t.Snapshot()
		d.Transcript = &snap
	}
	writeJSON(w, http.StatusOK, d)
}
