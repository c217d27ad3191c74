package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/api"
	"github.com/mxlab/mxlab/web"
)

// TestToken checks the UI behind an API that requires a token: a page
// opened with ?token= refers to its assets with the token, so that the
// browser, which cannot add a header to <script src>, can load them; a
// token made to break out of the attribute stays inside it.
func TestToken(t *testing.T) {
	const token = `s3cr"et><script>x</script>&`
	h := api.New(api.Config{Token: token, UI: web.Handler()})
	get := func(target string) (int, string) { return serve(h, target) }
	q := "token=" + strings.NewReplacer(`"`, "%22", ">", "%3E", "<", "%3C", "&", "%26", "/", "%2F").Replace(token)
	code, body := get("/sessions/s-000001?" + q)
	if code != 200 {
		t.Fatalf("page with the token: %d", code)
	}
	if strings.Contains(body, "<script>x") || strings.Contains(body, `s3cr"`) {
		t.Fatalf("the token broke out of its attribute:\n%s", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(refs) < 8 {
		t.Fatalf("asset references: %v", refs)
	}
	for _, ref := range refs {
		target, _, _ := strings.Cut(ref[1], "#") // a browser keeps the fragment
		if code, _ := get(target); code != 200 {
			t.Errorf("GET %s: %d, want 200", ref[1], code)
		}
	}
	if code, _ := get("/static/app.js"); code != 401 {
		t.Errorf("GET /static/app.js without the token: %d, want 401", code)
	}
	// Without a token the shells are as embedded.
	_, plain := serve(web.Handler(), "/sessions/s-000001")
	if strings.Contains(plain, "token=") {
		t.Errorf("a page without a token refers to one:\n%s", plain)
	}
}

func serve(h http.Handler, target string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}
