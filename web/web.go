// Package web is mxlab's web UI: a live list of the lab's sessions, a
// ladder diagram of one session's SMTP and STARTTLS exchange with the
// failing step marked and its alert explained, the scenarios' lessons,
// the received messages and the TLS-RPT reports (RFC 8460) received.
//
// The UI is static HTML, CSS and plain JavaScript embedded in the binary
// (no build step, nothing fetched from elsewhere, so it works offline);
// the pages read the lab through the HTTP API of docs/api.md from the
// same origin. [Handler] serves it; the api package mounts it for every
// path that is not /api/…, /metrics or /healthz.
//
// Everything a client sent (an EHLO name, an SNI, a subject) reaches the
// DOM only as text (textContent, createTextNode), never as markup, and
// every page carries a Content-Security-Policy that allows scripts from
// the lab's own origin only, so a payload that slipped through would
// still not run.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every response: scripts, styles,
// images and API calls from the lab's own origin only; no inline script
// or style, no plugins, no framing, no <base> rewriting, forms post
// nowhere else.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// pages maps each UI route to the page its script draws. Every page is
// the one shell, page.html, with its name in <body data-page>: a constant
// of this table, never anything from the request (the script reads the
// id or name from the address).
var pages = []struct{ pattern, page string }{
	{"GET /{$}", "sessions"},
	{"GET /sessions/{id}", "session"},
	{"GET /scenarios/{name}", "scenario"},
	{"GET /messages/{id}", "message"},
	{"GET /tlsrpt", "tlsrpt"},
}

// Handler returns the UI: the pages at /, /sessions/{id},
// /scenarios/{name}, /messages/{id} and /tlsrpt, their assets under
// /static/, and a 404 page for anything else.
func Handler() http.Handler {
	assets, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	shell := mustRead(assets, "page.html")
	missing := mustRead(assets, "404.html")
	mux := http.NewServeMux()
	for _, p := range pages {
		b := bytes.Replace(shell, []byte(`data-page="{page}"`), []byte(`data-page="`+p.page+`"`), 1)
		mux.HandleFunc(p.pattern, func(w http.ResponseWriter, r *http.Request) { serveHTML(w, b, http.StatusOK) })
	}
	alerts, err := json.Marshal(alertTable())
	if err != nil {
		panic(err)
	}
	mux.HandleFunc("GET /static/alerts.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(alerts)
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", assetServer(assets, missing)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		serveHTML(w, missing, http.StatusNotFound)
	})
	return secure(mux)
}

// secure adds the headers every UI response carries. nosniff keeps a
// browser from running a JSON or text answer as a script; the CSP is the
// second line of defence behind rendering client data as text.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// mustRead reads an embedded file, read once when the handler is made.
func mustRead(assets fs.FS, name string) []byte {
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return b
}

// serveHTML answers with a page. A mux that fails to match a method gets
// to the pages only for GET and HEAD, as the patterns say.
func serveHTML(w http.ResponseWriter, b []byte, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The shells are tiny and change with the binary; revalidating
	// keeps a browser from mixing an old page with a new script.
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// assetServer serves the embedded CSS and scripts, with no directory
// listings (a directory or a missing file is a 404).
func assetServer(assets fs.FS, missing []byte) http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Clean(strings.TrimPrefix(r.URL.Path, "/"))
		if fi, err := fs.Stat(assets, name); err != nil || fi.IsDir() || strings.HasSuffix(name, ".html") {
			serveHTML(w, missing, http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
