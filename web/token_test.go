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

// TestToken checks the UI behind an API that requires a token: the pages
// and their assets load without it (they hold no lab data, and a
// <script src> cannot send a header), the server never writes a token
// from the address into a page, and the API answers only with the token:
// as a header everywhere, as a parameter on the event stream alone.
func TestToken(t *testing.T) {
	const token = `s3cr"et><script>x</script>&`
	h := api.New(api.Config{Token: token, UI: web.Handler()})
	q := "token=" + strings.NewReplacer(`"`, "%22", ">", "%3E", "<", "%3C", "&", "%26", "/", "%2F").Replace(token)
	code, body := serve(h, "/sessions/s-000001?"+q, "")
	if code != 200 {
		t.Fatalf("page with the token: %d", code)
	}
	if strings.Contains(body, "token=") || strings.Contains(body, "s3cr") {
		t.Fatalf("the server wrote the token into the page:\n%s", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(refs) < 8 {
		t.Fatalf("asset references: %v", refs)
	}
	for _, ref := range refs {
		target, _, _ := strings.Cut(ref[1], "#") // a browser keeps the fragment
		if code, _ := serve(h, target, ""); code != 200 {
			t.Errorf("GET %s without the token: %d, want 200", ref[1], code)
		}
	}
	for _, c := range []struct {
		target, auth string
		want         int
	}{
		{"/api/v1/scenarios", "", 401},
		{"/api/v1/scenarios?" + q, "", 401}, // a token in the address is read on the event stream only
		{"/api/v1/no-such-route", "", 401},
		{"/api/v1/no-such-route", "Bearer " + token, 404}, // authorized (no lab behind this API)
		{"/metrics", "", 401},
	} {
		if code, _ := serve(h, c.target, c.auth); code != c.want {
			t.Errorf("GET %s (Authorization %q): %d, want %d", c.target, c.auth, code, c.want)
		}
	}
}

func serve(h http.Handler, target, auth string) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", target, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}
