// Package api is the lab's HTTP API (docs/api.md): the scenarios, the
// session records with their transcripts, a wait that replaces polling,
// an event stream, the message store, the switchboard, the TLS-RPT
// reports received, metrics and a health check. It answers JSON everywhere, errors included, and hands
// every other path to the web UI it is given.
//
// Security: the API is meant for loopback. [New] takes a token; with one,
// every request but GET /healthz must carry it (auth.go). Without one,
// requests must name the lab by an IP address or localhost in their Host
// header, so a web page cannot reach the API through DNS rebinding. No
// response carries CORS headers, so a page of another origin cannot read
// the API, and PUT and DELETE, which need a CORS preflight, never run for
// one. No route sends mail.
package api

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/tlsrpt"
)

// Config is what the API serves; zero values work except Lab.
type Config struct {
	// Lab is the running lab (required).
	Lab *lab.Lab
	// Token, when set, is required on every request but GET /healthz.
	Token string
	// TLSRPT holds the TLS-RPT reports the lab received, served at
	// GET /api/v1/tlsrpt; nil answers 404.
	TLSRPT *tlsrpt.Store
	// Metrics serves GET /metrics; nil answers 404.
	Metrics http.Handler
	// UI serves every path outside /api/, /metrics and /healthz; nil
	// answers those with a JSON 404.
	UI http.Handler
	// Logger receives a line per failed request; nil discards.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxWait bounds the wait parameter (default 5m).
	MaxWait time.Duration
	// KeepAlive is the interval of the event stream's keep-alive
	// comments (default 15s).
	KeepAlive time.Duration
}

// Default bounds.
const (
	DefaultMaxWait   = 5 * time.Minute
	DefaultKeepAlive = 15 * time.Second
	// DefaultLimit and MaxLimit bound how many sessions a list returns.
	DefaultLimit = 100
	MaxLimit     = 10000
)

type api struct {
	cfg Config
	log *slog.Logger
}

// New returns the API's handler.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	a := &api{cfg: cfg, log: cfg.Logger}
	return a.guard(a.routes())
}

// routes lists every route in one place. Each path takes its methods
// from a table, so that any other method gets a JSON 405 with Allow.
func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/healthz", methods{http.MethodGet: a.health})
	mux.Handle("/metrics", methods{http.MethodGet: a.metrics})
	mux.Handle("/api/v1/scenarios", methods{http.MethodGet: a.listScenarios})
	mux.Handle("/api/v1/scenarios/{name}", methods{http.MethodGet: a.getScenario})
	mux.Handle("/api/v1/sessions", methods{http.MethodGet: a.listSessions, http.MethodDelete: a.deleteSessions})
	mux.Handle("/api/v1/sessions/{id}", methods{http.MethodGet: a.getSession})
	mux.Handle("/api/v1/events", methods{http.MethodGet: a.events})
	mux.Handle("/api/v1/messages", methods{http.MethodGet: a.listMessages, http.MethodDelete: a.deleteMessages})
	mux.Handle("/api/v1/messages/{id}", methods{http.MethodGet: a.getMessage})
	mux.Handle("/api/v1/messages/{id}/raw", methods{http.MethodGet: a.rawMessage})
	mux.Handle("/api/v1/switchboard", methods{http.MethodGet: a.getSwitchboard, http.MethodPut: a.putSwitchboard})
	mux.Handle("/api/v1/tlsrpt", methods{http.MethodGet: a.listTLSRPT})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route %s", r.URL.Path)
	})
	if a.cfg.UI != nil {
		mux.Handle("/", a.cfg.UI)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "no route %s (this lab serves no UI)", r.URL.Path)
		})
	}
	return mux
}

// methods routes a path by method; HEAD is served as GET.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := m[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = m[http.MethodGet]
	}
	if !ok {
		var allow []string
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			if _, ok := m[method]; ok {
				allow = append(allow, method)
				if method == http.MethodGet {
					allow = append(allow, http.MethodHead)
				}
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))
		return
	}
	h(w, r)
}

// health answers 200 once every listener and the DNS server answer.
func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	if err := a.cfg.Lab.Health(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) metrics(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Metrics == nil {
		writeError(w, http.StatusNotFound, "this lab serves no metrics")
		return
	}
	a.cfg.Metrics.ServeHTTP(w, r)
}
