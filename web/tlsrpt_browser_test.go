package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mxlab/mxlab/api"
	"github.com/mxlab/mxlab/tlsrpt"
	"github.com/mxlab/mxlab/web"
)

// A report a sender posts, with markup where a hostile reporter would
// put it: the organization's name and the reason code.
const postedReport = `{"organization-name":"` + `<img src=x onerror=\"window.__mxlabXSS='org'\">` + `",
 "date-range":{"start-datetime":"2025-05-01T00:00:00Z","end-datetime":"2025-05-01T23:59:59Z"},
 "contact-info":"tlsrpt@gmail.mxlab.invalid","report-id":"2025-05-01T00:00:00Z_sni",
 "policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"x.sni-reject.mxlab.test"},
  "summary":{"total-successful-session-count":0,"total-failure-session-count":3},
  "failure-details":[{"result-type":"validation-failure","receiving-mx-hostname":"mx.sni-reject.mxlab.test","receiving-ip":"127.0.0.3",
   "failed-session-count":3,"failure-reason-code":"alert 47 (illegal_parameter)<script>window.__mxlabXSS='code'</script>"}]}]}`

// TestBrowserTLSRPT drives the TLS reports page in Chromium: empty at
// first, then a report POSTed to the RFC 8460 §5.4 endpoint shows up
// with its policy, counts and failure, and its markup stays text.
func TestBrowserTLSRPT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bctx, problems := browser(ctx, t)
	store := &tlsrpt.Store{}
	srv := httptest.NewServer(api.New(api.Config{TLSRPT: store, UI: web.Handler()}))
	t.Cleanup(srv.Close)
	endpoint := httptest.NewServer(tlsrpt.Handler(store))
	t.Cleanup(endpoint.Close)
	b := &tab{t: t, ctx: bctx, problems: problems}

	b.do("open the empty page", chromedp.Navigate(srv.URL+"/tlsrpt"), chromedp.WaitVisible(chromedp.CSS(`#tlsrpt-empty`)))

	resp, err := http.Post(endpoint.URL+"/v1/tlsrpt", tlsrpt.MediaJSON, bytes.NewReader([]byte(postedReport)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %s", resp.Status)
	}

	b.do("reload", chromedp.Navigate(srv.URL+"/tlsrpt"),
		chromedp.WaitVisible(chromedp.CSS(`article.tlsrpt[data-id="2025-05-01T00:00:00Z_sni"] li.failure`)))
	p := run(b, "read the page", chromedp.Evaluate[page](readPage))
	wantIn(t, "the page", p.Main, `<img src=x onerror="window.__mxlabXSS='org'">`, "via https", "x.sni-reject.mxlab.test", "no-policy-found",
		"validation-failure: alert 47 (illegal_parameter)", "× 3", "mx.sni-reject.mxlab.test 127.0.0.3", "2025-05-01T00:00:00Z to 2025-05-01T23:59:59Z")
	checkSafe(t, "tlsrpt", p)
	nav := run(b, "read the navigation", chromedp.Text(chromedp.CSS(`header.top nav`)))
	if !strings.Contains(nav, "TLS reports") {
		t.Errorf("the navigation lacks the page: %q", nav)
	}
	if pr := problems(); len(pr) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(pr, "\n"))
	}
}
