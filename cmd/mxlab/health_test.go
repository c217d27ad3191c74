package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected request "+r.URL.Path, http.StatusTeapot)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// A closed port: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, c := range []struct {
		name, api string
		status    int
		body      string
		code      int
		out       string // in stdout on success, in stderr otherwise
	}{
		{"ok", srv.Listener.Addr().String(), 200, `{"status":"ok"}`, exitOK, `/healthz: {"status":"ok"}`},
		{"unspecified host asked on loopback", "0.0.0.0:" + port, 200, `{"status":"ok"}`, exitOK, "http://127.0.0.1:" + port + "/healthz"},
		{"not ready", srv.Listener.Addr().String(), 503, `{"status":"unavailable","reason":"dns: no answer"}`, exitFailure, "503 Service Unavailable: dns: no answer"},
		{"not running", closed, 0, "", exitFailure, "is the lab running?"},
		{"bad address", "nonsense", 0, "", exitFailure, `--api "nonsense": want host:port`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body = c.status, c.body
			code, out, errOut := mxlab(t, "health", "--api", c.api)
			got := out
			if c.code != exitOK {
				got = errOut
			}
			if code != c.code || !strings.Contains(got, c.out) {
				t.Fatalf("mxlab health --api %s: exit %d, stdout %q, stderr %q; want exit %d and %q", c.api, code, out, errOut, c.code, c.out)
			}
		})
	}
}
