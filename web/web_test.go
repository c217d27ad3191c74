package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/tlsalert"
)

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

// TestRoutes checks every page and asset of the UI, what is not one, and
// the headers every answer carries.
func TestRoutes(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, target string
		status         int
		ctype, page    string
	}{
		{"GET", "/", 200, "text/html", `data-page="sessions"`},
		{"GET", "/sessions/s-000001", 200, "text/html", `data-page="session"`},
		{"GET", "/sessions/%3Cscript%3E", 200, "text/html", `data-page="session"`},
		{"GET", "/scenarios/sni-reject", 200, "text/html", `data-page="scenario"`},
		{"GET", "/tlsrpt", 200, "text/html", `data-page="tlsrpt"`},
		{"GET", "/messages/1746093600.M1P2Q1.mxlab", 200, "text/html", `data-page="message"`},
		{"HEAD", "/sessions/s-000001", 200, "text/html", ""},
		{"GET", "/static/app.js", 200, "text/javascript", "const MX"},
		{"GET", "/static/ladder.js", 200, "text/javascript", "MX.ladder"},
		{"GET", "/static/pages.js", 200, "text/javascript", "sessionPage"},
		{"GET", "/static/style.css", 200, "text/css", ".ladder"},
		{"GET", "/static/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/static/alerts.json", 200, "application/json", "illegal_parameter"},
		{"GET", "/static/", 404, "text/html", "Not found"},
		{"GET", "/static/page.html", 404, "text/html", "Not found"},
		{"GET", "/static/nope.js", 404, "text/html", "Not found"},
		{"GET", "/sessions/", 404, "text/html", "Not found"},
		{"GET", "/sessions/a/b", 404, "text/html", "Not found"},
		{"GET", "/nope", 404, "text/html", "Not found"},
		{"POST", "/", 405, "", ""},
		{"POST", "/sessions/s-000001", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			resp := get(t, h, tt.method, tt.target)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); tt.ctype != "" && !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tt.ctype)
			}
			if tt.page != "" && !strings.Contains(string(body), tt.page) {
				t.Errorf("body lacks %q:\n%s", tt.page, body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
				t.Errorf("Content-Security-Policy %q, want %q", got, CSP)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("a CORS header was sent")
			}
		})
	}
}

// TestCSP checks that the policy forbids what an injected payload would
// need: inline script, inline style, other origins, plugins, framing.
func TestCSP(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q: %s", want, CSP)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "data:", "http:", "https:"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q: %s", bad, CSP)
		}
	}
}

// TestPagesHaveNoInlineCode checks the shells: the CSP blocks inline
// script and style, so a page that had any would break under it.
func TestPagesHaveNoInlineCode(t *testing.T) {
	entries, err := static.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".html") {
			continue
		}
		b, _ := static.ReadFile("static/" + e.Name())
		s := string(b)
		for _, bad := range []string{"<script>", "style=", "onclick", "onload", "<style", "javascript:", "http://", "https://"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", e.Name(), bad)
			}
		}
	}
	// The scripts never turn data into markup.
	for _, name := range []string{"app.js", "ladder.js", "pages.js"} {
		b, _ := static.ReadFile("static/" + name)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}

// TestAlertTable checks that every alert tlsalert names has a sentence
// from each side, and the JSON the pages read.
func TestAlertTable(t *testing.T) {
	for i := range 256 {
		d := tlsalert.Description(i)
		if !d.Known() {
			continue
		}
		s, ok := alertText[d]
		if !ok {
			t.Errorf("alert %d %s has no sentence", i, d)
			continue
		}
		for side, text := range map[string]string{"server": s.server, "client": s.client} {
			if !strings.HasSuffix(text, ".") || strings.Count(text, ". ") > 0 {
				t.Errorf("alert %d %s (%s): want one sentence, got %q", i, d, side, text)
			}
		}
	}
	resp := get(t, Handler(), "GET", "/static/alerts.json")
	var table map[string]alertJSON
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		t.Fatal(err)
	}
	a := table["47"]
	if a.Name != "illegal_parameter" || !strings.Contains(a.Server, "SNI") {
		t.Errorf("alert 47 = %+v", a)
	}
}
