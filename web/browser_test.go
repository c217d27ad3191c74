package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mxlab/mxlab/api"
	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/web"
)

var update = flag.Bool("update", false, "rewrite docs/ui-ladder.png from the sni-reject ladder")

// The payloads a client sends in place of an EHLO name, a subject, a body
// and an SNI. Each would set window.__mxlabXSS if the page ran it.
const (
	xssEHLO    = `<img src=x onerror="window.__mxlabXSS='ehlo'">`
	xssSubject = `<script>window.__mxlabXSS='subject'</script>`
	xssBody    = `<img src=x onerror="window.__mxlabXSS='body'"> and <script>window.__mxlabXSS='body'</script>`
	xssSNI     = `<img src=x onerror=window.__mxlabXSS=1>`
)

// testLab is an in-process lab with its API and this UI, on loopback.
type testLab struct {
	lab  *lab.Lab
	url  string
	pool *x509.CertPool
}

func startLab(t *testing.T) *testLab {
	t.Helper()
	store, err := msgstore.Open(msgstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(lab.Config{
		StateDir: t.TempDir(), DNS: "127.0.0.1:0", Addressing: lab.Addressing{Ephemeral: true},
		SessionsFile: "-", Scenarios: []string{"baseline", "sni-reject"}, Messages: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	srv := httptest.NewServer(api.New(api.Config{Lab: l, UI: web.Handler()}))
	// Close the browser's event streams first, or Close waits for them.
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	ca, err := os.ReadFile(l.Layout().CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no CA certificate in", l.Layout().CACert)
	}
	return &testLab{lab: l, url: srv.URL, pool: pool}
}

func (tl *testLab) site(t *testing.T, name string) *lab.Site {
	for _, s := range tl.lab.Layout().Scenarios {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no scenario %s", name)
	return nil
}

// smtpSession runs one client session: EHLO, STARTTLS with sni as the
// server name, then (if the handshake completes and msg is set) one
// message and QUIT. It returns the session's record once it has ended,
// found by the client's own address through the API's wait.
func (tl *testLab) smtpSession(ctx context.Context, t *testing.T, scenario, ehlo, sni string, msg []byte) map[string]any {
	t.Helper()
	site := tl.site(t, scenario)
	// Only sessions that ended after this: a busy machine reuses client
	// ports, so the address alone may name an earlier session too.
	began := time.Now().UTC()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", site.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	local := conn.LocalAddr().String()
	c, err := smtp.NewClient(conn, site.MX)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(ehlo); err != nil {
		t.Fatal(err)
	}
	err = c.StartTLS(&tls.Config{ServerName: sni, RootCAs: tl.pool, InsecureSkipVerify: sni != site.MX})
	switch {
	case err != nil && msg != nil:
		t.Fatalf("%s: STARTTLS: %v", scenario, err)
	case err == nil && msg == nil:
		t.Fatalf("%s: STARTTLS with SNI %q succeeded, want an alert", scenario, sni)
	case err == nil:
		if err := c.Mail("learner@example.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("postmaster@" + site.Domain); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(msg)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
	default:
		conn.Close() // the lab closed its side after the alert
	}
	var list struct {
		Sessions []map[string]any `json:"sessions"`
	}
	tl.getJSON(ctx, t, "/api/v1/sessions?wait=30s&since="+url.QueryEscape(began.Format(time.RFC3339Nano))+"&remote="+url.QueryEscape(local), &list)
	if len(list.Sessions) != 1 {
		t.Fatalf("sessions from %s: %v", local, list.Sessions)
	}
	return list.Sessions[0]
}

// smtpConn is a plain SMTP connection the test drives line by line.
type smtpConn struct{ *textproto.Conn }

func (tl *testLab) dialSMTP(ctx context.Context, t *testing.T, scenario string) *smtpConn {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", tl.site(t, scenario).SMTP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c := &smtpConn{textproto.NewConn(conn)}
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return c
}

// cmd sends one command and reads its reply, which must have the code.
func (c *smtpConn) cmd(t *testing.T, line, code string) {
	t.Helper()
	if err := c.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
	got, msg, err := c.ReadResponse(0)
	if err != nil || fmt.Sprint(got) != code {
		t.Fatalf("%s: %d %s %v, want %s", line, got, msg, err, code)
	}
}

func (tl *testLab) getJSON(ctx context.Context, t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", tl.url+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// browser starts headless Chromium for one test. The allocator's cancel
// kills the browser process (by PID, through exec.CommandContext) and
// waits for it, whether the test passes or fails. Every exception a page
// throws and every console error (a CSP violation is one) is collected.
func browser(ctx context.Context, t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := realpeer.Need(t, realpeer.Chromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return // the browser's context ended
			}
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	return bctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// page is what the test reads of a rendered page.
type page struct {
	Verdict, VerdictClass, Ladder, Fail, Raw, Main string
	FirstChild, LessonHref                         string
	XSS                                            any
	Images, Scripts                                int
	HelloBeforeFail                                bool
}

const readPage = `(() => {
  const t = (sel) => { const e = document.querySelector(sel); return e ? e.textContent : ''; };
  const steps = [...document.querySelectorAll('#ladder > li')];
  const hello = steps.findIndex((li) => li.querySelector('.sni'));
  const fail = steps.findIndex((li) => li.id === 'fail');
  const lesson = document.querySelector('#verdict a.lesson');
  const v = document.querySelector('#verdict');
  return {
    Verdict: t('#verdict'), VerdictClass: v ? v.className : '', Ladder: t('#ladder'), Fail: t('#fail'), Raw: t('#raw'), Main: t('main'),
    FirstChild: document.querySelector('main').firstElementChild.id,
    LessonHref: lesson ? lesson.getAttribute('href') : '',
    XSS: window.__mxlabXSS === undefined ? null : window.__mxlabXSS,
    Images: document.querySelectorAll('img').length,
    Scripts: document.scripts.length,
    HelloBeforeFail: hello >= 0 && fail > hello,
  };
})()`

func wantIn(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// checkSafe checks that no payload became markup or ran: no <img> in the
// page, no script but the UI's own three, the flag still unset.
func checkSafe(t *testing.T, where string, p page) {
	t.Helper()
	if p.XSS != nil || p.Images != 0 || p.Scripts != 3 {
		t.Errorf("%s: a payload was interpreted: window.__mxlabXSS=%v, %d <img>, %d <script>", where, p.XSS, p.Images, p.Scripts)
	}
}

// TestBrowser drives the UI in Chromium against a lab: the live list
// fills through the event stream, a failed sni-reject session's ladder
// marks the alert first and shows the SNI, a completed baseline
// session's ladder shows the handshake and the commands, and what the
// clients sent (an EHLO name, an SNI, a subject, a body made of markup)
// shows up as text and never runs.
func TestBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bctx, problems := browser(ctx, t)
	tl := startLab(t)
	b := &tab{t: t, ctx: bctx, problems: problems}

	// The list is loaded (empty) and the stream is open before any
	// session starts: every row below arrives through the stream.
	b.do("open the session list", chromedp.Navigate(tl.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#sessions-empty`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.on`)))

	sni := tl.site(t, "sni-reject")
	failed := tl.smtpSession(ctx, t, "sni-reject", "client.example", sni.MX, nil)
	msg := "From: learner@example.test\r\nTo: postmaster@baseline.mxlab.test\r\nSubject: " + xssSubject + "\r\n\r\n" + xssBody + "\r\n"
	done := tl.smtpSession(ctx, t, "baseline", xssEHLO, tl.site(t, "baseline").MX, []byte(msg))
	evil := tl.smtpSession(ctx, t, "sni-reject", "client.example", xssSNI, nil)

	ids := []string{failed["id"].(string), done["id"].(string), evil["id"].(string)}
	for _, id := range ids {
		b.do("the row of "+id+" through the event stream", chromedp.WaitVisible(chromedp.CSS(`tr.session[data-id="`+id+`"]`)))
	}
	outcome := run(b, "read the list", chromedp.Text(chromedp.CSS(`tr.session[data-id="`+ids[0]+`"] td.outcome`)))
	wantIn(t, "the sni-reject row", outcome, "alert 47 illegal_parameter")

	// The failed session: the verdict comes first and names the alert,
	// the ladder shows the SNI, then the alert marked as the failing step.
	b.do("open the sni-reject ladder", chromedp.Navigate(tl.url+"/sessions/"+ids[0]),
		chromedp.WaitVisible(chromedp.CSS(`#verdict.fail`)))
	p := run(b, "read the sni-reject ladder", chromedp.Evaluate[page](readPage))
	if p.FirstChild != "verdict" {
		t.Errorf("the first thing on the page is #%s, want the verdict", p.FirstChild)
	}
	wantIn(t, "the verdict", p.Verdict, "alert 47 illegal_parameter", "SNI "+sni.MX, "Lesson: sni-reject")
	wantIn(t, "the failing step", p.Fail, "alert 47 illegal_parameter")
	wantIn(t, "the ladder", p.Ladder, "banner", "EHLO client.example", "STARTTLS", "ClientHello", "SNI "+sni.MX, "220 ")
	wantIn(t, "the raw transcript", p.Raw, "EHLO client.example", "STARTTLS", "alert 47 illegal_parameter")
	if !p.HelloBeforeFail {
		t.Errorf("the failing step does not follow the ClientHello:\n%s", p.Ladder)
	}
	if p.LessonHref != "/scenarios/sni-reject" {
		t.Errorf("lesson link %q, want /scenarios/sni-reject", p.LessonHref)
	}
	checkSafe(t, "sni-reject", p)
	shot := run(b, "screenshot", chromedp.FullScreenshot(100))

	// The lesson it links to.
	b.do("open the lesson", chromedp.Navigate(tl.url+p.LessonHref), chromedp.WaitVisible(chromedp.CSS(`article.lesson h1`)))
	lesson := run(b, "read the lesson", chromedp.Text(chromedp.CSS(`main`)))
	wantIn(t, "the lesson", lesson, "sni-reject", "The lesson", "The fix", sni.MX)

	// The completed session: the handshake's version and suite, the
	// commands, and the EHLO name as the client wrote it.
	tlsState, _ := done["tls"].(map[string]any)
	version, _ := tlsState["version"].(string)
	suite, _ := tlsState["cipher"].(string)
	if version == "" || suite == "" {
		t.Fatalf("baseline record without TLS: %v", done)
	}
	b.do("open the baseline ladder", chromedp.Navigate(tl.url+"/sessions/"+ids[1]),
		chromedp.WaitVisible(chromedp.CSS(`#verdict.ok`)))
	p = run(b, "read the baseline ladder", chromedp.Evaluate[page](readPage))
	wantIn(t, "the verdict", p.Verdict, version, suite, "1 message delivered")
	wantIn(t, "the ladder", p.Ladder, "banner", "EHLO "+xssEHLO, "STARTTLS", "ClientHello", "SNI "+tl.site(t, "baseline").MX,
		"TLS established: "+version+" "+suite, "MAIL FROM:<learner@example.test>", "RCPT TO:<postmaster@", "DATA", "message data", "QUIT", "221")
	wantIn(t, "the raw transcript", p.Raw, "EHLO "+xssEHLO)
	if p.Fail != "" {
		t.Errorf("a completed session has a failing step: %s", p.Fail)
	}
	checkSafe(t, "baseline", p)

	// Its message: subject and body as text.
	msgs, _ := done["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("the baseline session delivered %v", done["messages"])
	}
	b.do("open the message", chromedp.Navigate(tl.url+"/messages/"+url.PathEscape(msgs[0].(string))),
		chromedp.WaitVisible(chromedp.CSS(`#body`)))
	subject := run(b, "read the subject", chromedp.Text(chromedp.CSS(`article.message h1`)))
	body := run(b, "read the body", chromedp.TextContent(chromedp.CSS(`#body`)))
	if subject != xssSubject {
		t.Errorf("subject shown as %q, want %q", subject, xssSubject)
	}
	wantIn(t, "the body", body, xssBody)
	checkSafe(t, "message", run(b, "read the message page", chromedp.Evaluate[page](readPage)))

	// The SNI made of markup.
	b.do("open the ladder with a markup SNI", chromedp.Navigate(tl.url+"/sessions/"+ids[2]),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	p = run(b, "read the ladder with a markup SNI", chromedp.Evaluate[page](readPage))
	wantIn(t, "the ladder", p.Ladder, "SNI "+xssSNI)
	wantIn(t, "the verdict", p.Verdict, "SNI "+xssSNI)
	checkSafe(t, "markup SNI", p)

	// And the list, which shows every SNI and outcome.
	b.do("reload the list", chromedp.Navigate(tl.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr.session[data-id="`+ids[2]+`"]`)))
	p = run(b, "read the list", chromedp.Evaluate[page](readPage))
	wantIn(t, "the list", p.Main, xssSNI, ids[0], ids[1], sni.MX)
	checkSafe(t, "list", p)

	// A session still running: its row shows up at once, its page shows
	// each step as it happens and the verdict once it ends.
	live := tl.dialSMTP(ctx, t, "baseline")
	live.cmd(t, "EHLO live.example", "250")
	b.do("the running session's row", chromedp.WaitVisible(chromedp.CSS(`tr.session.run`)))
	runID := run(b, "read the running session's id", chromedp.Evaluate[string](`document.querySelector('tr.session.run').dataset.id`))
	b.do("open the running session", chromedp.Navigate(tl.url+"/sessions/"+runID),
		chromedp.WaitVisible(chromedp.CSS(`#verdict.run`)))
	live.cmd(t, "NOOP", "250")
	b.do("the NOOP step appears", chromedp.WaitVisible(chromedp.CSS(`#ladder li[data-verb="NOOP"]`)))
	live.cmd(t, "QUIT", "221")
	b.do("the verdict once it ends", chromedp.WaitVisible(chromedp.CSS(`#verdict.plain`)))
	p = run(b, "read the ended session", chromedp.Evaluate[page](readPage))
	wantIn(t, "the ladder", p.Ladder, "EHLO live.example", "NOOP", "QUIT", "221")

	if pr := problems(); len(pr) > 0 {
		t.Errorf("the pages reported problems:\n%s", strings.Join(pr, "\n"))
	}
	if *update {
		if !bytes.HasPrefix(shot, []byte("\x89PNG")) {
			t.Fatal("the screenshot is not a PNG")
		}
		if err := os.WriteFile("../docs/ui-ladder.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote ../docs/ui-ladder.png")
	}
}

// tab runs browser actions, each bounded by its own deadline: a page that
// never reaches the state the test waits for fails the test, it does not
// hang it.
type tab struct {
	t        *testing.T
	ctx      context.Context
	problems func() []string
}

const actionTimeout = 30 * time.Second

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	run(b, what, chromedp.Steps(actions...))
}

func run[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (page problems: %v)", what, err, b.problems())
	}
	return v
}
