package api

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// guard applies the API's security to every request: the token when one
// is set, else a Host header that names the lab by address or as
// localhost. It also marks every answer as not to be cached or sniffed.
// The UI's pages and assets hold no lab data and need no token (a
// <script src> cannot send one); everything under /api/ and /metrics
// does.
func (a *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		// An image's health check has no token; nor does a browser
		// loading the UI's pages, which then call the API with it.
		exempt := r.URL.Path == "/healthz" || !strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/metrics"
		switch {
		case a.cfg.Token != "" && !exempt && !a.authorized(r):
			w.Header().Set("WWW-Authenticate", `Bearer realm="mxlab"`)
			writeError(w, http.StatusUnauthorized, "this API needs its token: send Authorization: Bearer TOKEN")
			return
		case a.cfg.Token == "" && !localHost(r.Host):
			// DNS rebinding: a page on evil.example whose name now points
			// at 127.0.0.1 sends Host: evil.example.
			writeError(w, http.StatusForbidden, "Host %q is not an address or localhost", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// eventsPath is the one route that takes the token as a parameter: an
// EventSource cannot set headers. Anywhere else a token in the address
// would end up in histories and proxy logs, so it is not read there.
const eventsPath = "/api/v1/events"

// authorized checks the bearer token, or the event stream's token
// parameter.
func (a *api) authorized(r *http.Request) bool {
	var got string
	if r.URL.Path == eventsPath {
		got = r.URL.Query().Get("token")
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		got = strings.TrimSpace(tok)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) == 1
}

// localHost accepts a Host header that is an IP address or localhost,
// with or without a port.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.ToLower(host)
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
