package api

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/server"
)

var stateDir string

func TestMain(m *testing.M) {
	// One state directory for the package: the lab's keys take time.
	dir, err := os.MkdirTemp("", "mxlab-api-test-")
	if err != nil {
		panic(err)
	}
	stateDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testLab runs a lab on loopback ephemeral ports with a switchboard and
// an in-memory store, and its API on httptest.
type testLab struct {
	*lab.Lab
	srv *httptest.Server
}

func startLab(t *testing.T, token string) *testLab {
	t.Helper()
	store, err := msgstore.Open(msgstore.Config{MaxMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(lab.Config{
		StateDir: stateDir, DNS: "127.0.0.1:0", Addressing: lab.Addressing{Ephemeral: true},
		SessionsFile: "-", Switchboard: "127.0.0.1:0", Messages: store,
		Scenarios: []string{"baseline", "sni-reject", "no-starttls"},
		Timeouts:  server.Timeouts{Command: 10 * time.Second, Handshake: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	srv := httptest.NewServer(New(Config{Lab: l, Token: token, Metrics: http.NotFoundHandler(), KeepAlive: time.Hour}))
	t.Cleanup(srv.Close)
	return &testLab{Lab: l, srv: srv}
}

// call makes one request and decodes a JSON answer into out (if not nil).
func (tl *testLab) call(t *testing.T, method, path, body string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, tl.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, data, err)
		}
	}
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s %s: CORS header %s", method, path, k)
		}
	}
	return resp
}

// deliver sends one message to addr over plain SMTP and quits.
func deliver(t *testing.T, addr, subject string) {
	t.Helper()
	d := smtpexpect.Dial(t, addr)
	d.Expect(220)
	d.Cmd("EHLO client.example", 250)
	d.Cmd("MAIL FROM:<a@client.example>", 250)
	d.Cmd("RCPT TO:<postmaster@baseline.mxlab.test>", 250)
	d.Cmd("DATA", 354)
	d.Send("Subject: " + subject + "\r\n\r\nhello")
	d.Cmd(".", 250)
	d.Cmd("QUIT", 221)
}

func site(t *testing.T, l *lab.Lab, name string) string {
	t.Helper()
	s, err := l.Layout().Site(name)
	if err != nil {
		t.Fatal(err)
	}
	return s.SMTP
}

type apiError struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestErrors: every kind of bad request gets a JSON error with its status
// and a message that names what is wrong.
func TestErrors(t *testing.T) {
	tl := startLab(t, "")
	tests := []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"unknown session", "GET", "/api/v1/sessions/s-999999", "", 404, `no session "s-999999"`},
		{"unknown message", "GET", "/api/v1/messages/nope", "", 404, `no message "nope"`},
		{"unknown raw message", "GET", "/api/v1/messages/nope/raw", "", 404, `no message "nope"`},
		{"unknown scenario", "GET", "/api/v1/scenarios/nope", "", 404, `"nope"`},
		{"unknown route", "GET", "/api/v2/x", "", 404, "no route /api/v2/x"},
		{"no UI", "GET", "/sessions/s-1", "", 404, "no UI"},
		{"wrong method", "POST", "/api/v1/sessions", "", 405, "POST is not allowed"},
		{"wrong method on a message", "DELETE", "/api/v1/messages/x", "", 405, "allowed: GET, HEAD"},
		{"put empty", "PUT", "/api/v1/switchboard", "", 400, "body: empty"},
		{"put cut", "PUT", "/api/v1/switchboard", `{"scenario":`, 400, "ends early"},
		{"put not json", "PUT", "/api/v1/switchboard", `scenario=baseline`, 400, "body: not JSON"},
		{"put array", "PUT", "/api/v1/switchboard", `["baseline"]`, 400, "want a JSON object"},
		{"put number", "PUT", "/api/v1/switchboard", `{"scenario":5}`, 400, "scenario: want a string, got a number"},
		{"put missing", "PUT", "/api/v1/switchboard", `{}`, 400, "scenario: missing"},
		{"put extra field", "PUT", "/api/v1/switchboard", `{"scenario":"baseline","x":1}`, 400, `unknown field "x"`},
		{"put unknown scenario", "PUT", "/api/v1/switchboard", `{"scenario":"nope"}`, 400, `scenario: unknown name "nope" (running: baseline, no-starttls, sni-reject)`},
		{"put two values", "PUT", "/api/v1/switchboard", `{"scenario":"baseline"}{}`, 400, "trailing data after the JSON object"},
		{"put trailing garbage", "PUT", "/api/v1/switchboard", `{"scenario":"baseline"}garbage`, 400, "trailing data after the JSON object"},
		{"bad limit", "GET", "/api/v1/sessions?limit=0", "", 400, "limit:"},
		{"bad wait", "GET", "/api/v1/sessions?wait=forever", "", 400, "wait:"},
		{"wait too long", "GET", "/api/v1/sessions?wait=1h", "", 400, "at most 5m0s"},
		{"bad since", "GET", "/api/v1/sessions?since=yesterday", "", 400, "since:"},
		{"bad scenario filter", "GET", "/api/v1/sessions?scenario=nope", "", 400, "scenario:"},
		{"bad events filter", "GET", "/api/v1/events?scenario=nope", "", 400, "scenario:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			resp := tl.call(t, tt.method, tt.path, tt.body, &e)
			if resp.StatusCode != tt.status || e.Error.Status != tt.status || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("%d %+v, want %d with %q", resp.StatusCode, e.Error, tt.status, tt.message)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

// TestSessionsAndMessages follows one delivery through every route that
// shows it, then clears both stores.
func TestSessionsAndMessages(t *testing.T) {
	tl := startLab(t, "")
	deliver(t, site(t, tl.Lab, "baseline"), "<script>alert(1)</script>")

	var list struct{ Sessions []server.Record }
	tl.call(t, "GET", "/api/v1/sessions?scenario=baseline&wait=10s&since=2000-01-01T00:00:00Z", "", &list)
	if len(list.Sessions) != 1 || len(list.Sessions[0].Messages) != 1 {
		t.Fatalf("sessions %+v", list.Sessions)
	}
	rec := list.Sessions[0]
	for _, q := range []string{"?remote=127.0.0.1", "?remote=" + rec.Remote, "?limit=1"} {
		var l struct{ Sessions []server.Record }
		if tl.call(t, "GET", "/api/v1/sessions"+q, "", &l); len(l.Sessions) != 1 {
			t.Errorf("%s: %d sessions", q, len(l.Sessions))
		}
	}
	for _, q := range []string{"?remote=10.0.0.1", "?scenario=sni-reject", "?since=" + rec.Ended.Format(time.RFC3339Nano)} {
		var l struct{ Sessions []server.Record }
		if tl.call(t, "GET", "/api/v1/sessions"+q, "", &l); len(l.Sessions) != 0 {
			t.Errorf("%s: %d sessions, want none", q, len(l.Sessions))
		}
	}

	var detail struct {
		Record     server.Record
		Active     bool
		Transcript server.TranscriptJSON
	}
	tl.call(t, "GET", "/api/v1/sessions/"+rec.ID, "", &detail)
	ev := detail.Transcript.Events
	if detail.Active || len(ev) < 10 || ev[0].Text[:4] != "220 " || ev[len(ev)-1].Kind != server.StepClose || ev[len(ev)-1].Text != "quit" {
		t.Errorf("detail active=%v transcript %+v", detail.Active, ev)
	}

	var msg msgstore.Message
	tl.call(t, "GET", "/api/v1/messages/"+rec.Messages[0], "", &msg)
	if msg.Session != rec.ID || msg.Subject != "<script>alert(1)</script>" || msg.Headers[0].Name != "Subject" {
		t.Errorf("message %+v", msg)
	}
	resp, err := http.Get(tl.srv.URL + "/api/v1/messages/" + msg.ID + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "message/rfc822" || !strings.HasSuffix(string(raw), "\r\n\r\nhello\r\n") || !strings.Contains(string(raw), "X-Mxlab-Session: "+rec.ID) {
		t.Errorf("raw %s %q", resp.Header.Get("Content-Type"), raw)
	}

	var deleted struct{ Deleted int }
	if tl.call(t, "DELETE", "/api/v1/messages", "", &deleted); deleted.Deleted != 1 {
		t.Errorf("deleted %d messages", deleted.Deleted)
	}
	if tl.call(t, "DELETE", "/api/v1/sessions", "", &deleted); deleted.Deleted != 1 {
		t.Errorf("deleted %d sessions", deleted.Deleted)
	}
	var msgs struct{ Messages []msgstore.Message }
	tl.call(t, "GET", "/api/v1/messages", "", &msgs)
	tl.call(t, "GET", "/api/v1/sessions", "", &list)
	if len(msgs.Messages) != 0 || len(list.Sessions) != 0 {
		t.Errorf("after DELETE: %d messages, %d sessions", len(msgs.Messages), len(list.Sessions))
	}
	if resp := tl.call(t, "GET", "/api/v1/sessions/"+rec.ID, "", nil); resp.StatusCode != 404 {
		t.Errorf("deleted session: %d", resp.StatusCode)
	}
}

// TestWait: a wait answers once a matching session ends, and with an
// empty list when the time runs out.
func TestWait(t *testing.T) {
	tl := startLab(t, "")
	got := make(chan []server.Record, 1)
	go func() {
		var list struct{ Sessions []server.Record }
		tl.call(t, "GET", "/api/v1/sessions?scenario=no-starttls&wait=1m", "", &list)
		got <- list.Sessions
	}()
	// The wait is registered once the handler watches the log; a
	// session of another scenario must not answer it.
	waitWatchers(t, tl.Lab, 1)
	deliver(t, site(t, tl.Lab, "baseline"), "other")
	d := smtpexpect.Dial(t, site(t, tl.Lab, "no-starttls"))
	d.Expect(220)
	d.Cmd("QUIT", 221)
	select {
	case recs := <-got:
		if len(recs) != 1 || recs[0].Scenario != "no-starttls" {
			t.Errorf("wait answered %+v", recs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the wait did not answer after the session ended")
	}

	var list struct{ Sessions []server.Record }
	resp := tl.call(t, "GET", "/api/v1/sessions?scenario=sni-reject&wait=50ms", "", &list)
	if resp.StatusCode != 200 || list.Sessions == nil || len(list.Sessions) != 0 {
		t.Errorf("timed-out wait: %d %+v", resp.StatusCode, list.Sessions)
	}
}

// waitWatchers waits until the session log has n watchers besides the
// ones the test started with (bounded).
func waitWatchers(t *testing.T, l *lab.Lab, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.Sessions().Watchers() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d watchers after 10s, want %d", l.Sessions().Watchers(), n)
		}
	}
}

// TestEvents reads the event stream while an sni-reject session fails.
func TestEvents(t *testing.T) {
	tl := startLab(t, "")
	resp, err := http.Get(tl.srv.URL + "/api/v1/events?scenario=sni-reject")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); line != ": mxlab events\n" {
		t.Fatalf("first line %q", line)
	}
	sni, _ := tl.Layout().Site("sni-reject")
	deliver(t, site(t, tl.Lab, "baseline"), "filtered out")
	d := smtpexpect.Dial(t, sni.SMTP)
	d.Expect(220)
	d.Cmd("EHLO client.example", 250)
	d.Cmd("STARTTLS", 220)
	if err := d.StartTLS(&tls.Config{ServerName: sni.MX, InsecureSkipVerify: true}); err == nil {
		t.Fatal("sni-reject completed a handshake")
	}
	var types []string
	var alert bool
	for {
		typ, data := readEvent(t, r)
		types = append(types, typ)
		var e server.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil || e.Scenario != "sni-reject" {
			t.Fatalf("event %s %s: %v", typ, data, err)
		}
		if e.Step != nil && e.Step.Record != nil && e.Step.Record.Alert != nil && e.Step.Record.Alert.Code == 47 {
			alert = true
		}
		if typ == "session-end" {
			if e.Record == nil || e.Record.AlertSent == nil || e.Record.AlertSent.Code != 47 {
				t.Errorf("end record %+v", e.Record)
			}
			break
		}
	}
	if types[0] != "session-start" || len(types) < 5 || !alert {
		t.Errorf("events %v (alert step seen: %v)", types, alert)
	}
}

func readEvent(t *testing.T, r *bufio.Reader) (typ, data string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && typ != "":
			return typ, data
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestSwitchboard: a session that started on one scenario finishes on it
// after the switchboard moves on; the next one gets the new scenario.
func TestSwitchboard(t *testing.T) {
	tl := startLab(t, "")
	var sb switchboardJSON
	tl.call(t, "GET", "/api/v1/switchboard", "", &sb)
	if sb.Scenario != "baseline" || sb.Address != tl.Layout().Switchboard || len(sb.Scenarios) != 3 {
		t.Fatalf("switchboard %+v", sb)
	}
	running := smtpexpect.Dial(t, sb.Address)
	banner := running.Expect(220)[0]
	if resp := tl.call(t, "PUT", "/api/v1/switchboard", `{"scenario":"no-starttls"}`, &sb); resp.StatusCode != 200 || sb.Scenario != "no-starttls" {
		t.Fatalf("PUT: %d %+v", resp.StatusCode, sb)
	}
	// The running session is still baseline's Postfix, STARTTLS and all.
	lines := running.Cmd("EHLO client.example", 250)
	if !strings.Contains(banner, "Postfix") || !strings.Contains(strings.Join(lines, " "), "STARTTLS") {
		t.Errorf("running session changed: %q %q", banner, lines)
	}
	running.Cmd("QUIT", 221)
	next := smtpexpect.Dial(t, sb.Address)
	if b := next.Expect(220)[0]; !strings.Contains(b, "Sendmail") {
		t.Errorf("new session banner %q, want no-starttls's sendmail", b)
	}
	next.Cmd("QUIT", 221)

	var list struct{ Sessions []server.Record }
	tl.call(t, "GET", "/api/v1/sessions?wait=10s&since=2000-01-01T00:00:00Z&limit=2", "", &list)
	for deadline := time.Now().Add(10 * time.Second); len(list.Sessions) < 2 && time.Now().Before(deadline); {
		tl.call(t, "GET", "/api/v1/sessions?wait=10s&since="+list.Sessions[0].Ended.Format(time.RFC3339Nano), "", nil)
		tl.call(t, "GET", "/api/v1/sessions", "", &list)
	}
	if len(list.Sessions) != 2 || list.Sessions[0].Via != "switchboard" || list.Sessions[1].Via != "switchboard" ||
		list.Sessions[0].Scenario != "no-starttls" || list.Sessions[1].Scenario != "baseline" {
		t.Errorf("switchboard sessions %+v", list.Sessions)
	}
}

// TestToken: with a token, every call but /healthz needs it; a wrong one
// is refused like a missing one; the Host check is off (the API is
// meant to be reached by name then).
func TestToken(t *testing.T) {
	tl := startLab(t, "s3cret")
	tests := []struct {
		path, auth string
		status     int
	}{
		{"/healthz", "", 200},
		{"/api/v1/scenarios", "", 401},
		{"/api/v1/sessions", "Bearer nope", 401},
		{"/api/v1/switchboard", "Basic czNjcmV0", 401},
		{"/metrics", "", 401},
		{"/api/v1/scenarios", "Bearer s3cret", 200},
		{"/api/v1/scenarios?token=s3cret", "", 401}, // the parameter counts on the event stream only
		{"/", "", 404},                              // the UI's paths need no token (no UI here: 404, not 401)
		{"/static/app.js", "", 404},
		{"/api/v1/sessions/s-1", "Bearer s3cret", 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", tl.srv.URL+tt.path, nil)
		req.Host = "lab.example.org"
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s (%q): %d, want %d", tt.path, tt.auth, resp.StatusCode, tt.status)
		}
		if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", tt.path)
		}
	}
}

// TestNoCORS: a cross-origin request and a preflight get no CORS header
// (call checks every answer), and a foreign Host is refused.
func TestNoCORS(t *testing.T) {
	tl := startLab(t, "")
	for _, method := range []string{"GET", "OPTIONS"} {
		req, _ := http.NewRequest(method, tl.srv.URL+"/api/v1/sessions", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "DELETE")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("%s: CORS header %s", method, k)
			}
		}
	}
	req, _ := http.NewRequest("GET", tl.srv.URL+"/api/v1/sessions", nil)
	req.Host = "evil.example:80"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("foreign Host: %d, want 403", resp.StatusCode)
	}
}

func TestScenariosAndHealth(t *testing.T) {
	tl := startLab(t, "")
	var list struct {
		Scenarios []map[string]any
	}
	tl.call(t, "GET", "/api/v1/scenarios", "", &list)
	if len(list.Scenarios) != 3 || list.Scenarios[0]["name"] != "baseline" || list.Scenarios[0]["smtp"] == "" || list.Scenarios[0]["lesson"] == nil || list.Scenarios[0]["lesson"] == "" || list.Scenarios[0]["fix"] != nil {
		t.Errorf("list %+v", list.Scenarios)
	}
	var one map[string]any
	tl.call(t, "GET", "/api/v1/scenarios/sni-reject", "", &one)
	if one["lesson"] == "" || one["mx"] == "" || one["imitates"] != "exim" {
		t.Errorf("sni-reject %+v", one)
	}
	var h map[string]string
	if resp := tl.call(t, "GET", "/healthz", "", &h); resp.StatusCode != 200 || h["status"] != "ok" {
		t.Errorf("healthz %d %v", resp.StatusCode, h)
	}
	tl.Close()
	if resp := tl.call(t, "GET", "/healthz", "", &h); resp.StatusCode != 503 {
		t.Errorf("healthz of a closed lab %d %v", resp.StatusCode, h)
	}
}
