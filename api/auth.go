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
func (a *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Cache-Control", "no-store")
		}
		exempt := r.URL.Path == "/healthz" // an image's health check has no token
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

// authorized checks the bearer token, or the token parameter that an
// EventSource, which cannot set headers, sends.
func (a *api) authorized(r *http.Request) bool {
	got := r.URL.Query().Get("token")
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
