package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
)

// asMxlab, set in a process's environment, makes this test binary run
// as the mxlab command (TestMain): the tests that need a process of its
// own (SIGKILL, two labs side by side) run the code under test without
// building it again.
const asMxlab = "MXLAB_TEST_RUN_AS_MXLAB"

func TestMain(m *testing.M) {
	if os.Getenv(asMxlab) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// built is the mxlab command built without the race detector, for the
// tests that measure its memory when this binary runs under it.
var built struct {
	once sync.Once
	path string
	err  error
}

// plainMxlabCommand is mxlabCommand without the race detector's memory:
// this binary itself when it runs without it, else a build of the command.
func plainMxlabCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if !raceEnabled {
		return mxlabCommand(t, args...)
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "mxlab-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "mxlab")
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return exec.Command(built.path, args...)
}

// mxlabCommand is `mxlab ARGS...` as a process of its own.
func mxlabCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asMxlab+"=1")
	return cmd
}

// labProc is a running `mxlab serve` process.
type labProc struct {
	cmd    *exec.Cmd
	layout *lab.Layout
	stderr *bytes.Buffer
}

// startServe runs `mxlab serve --ephemeral` on loopback with the given
// state directory and extra flags, and waits (bounded) for its manifest.
func startServe(t *testing.T, state string, extra ...string) *labProc {
	t.Helper()
	return startServeWith(t, mxlabCommand, state, extra...)
}

// startServeWith is startServe with the command made by command.
func startServeWith(t *testing.T, command func(*testing.T, ...string) *exec.Cmd, state string, extra ...string) *labProc {
	t.Helper()
	manifest := filepath.Join(t.TempDir(), "lab.json")
	args := append([]string{"serve", "--ephemeral", "--state-dir", state, "--manifest", manifest, "--sessions-file", "-",
		"--scenario", "baseline", "--scenario", "sni-reject"}, extra...)
	cmd := command(t, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &labProc{cmd: cmd, stderr: &stderr}
	t.Cleanup(p.kill)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if l, err := lab.ReadManifest(manifest); err == nil {
			p.layout = l
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("no manifest after 60s")
		}
	}
}

// kill stops the process by its PID, SIGKILL, and reaps it.
func (p *labProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func (p *labProc) get(t *testing.T, path string, out any) int {
	t.Helper()
	resp, err := http.Get("http://" + p.layout.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("GET %s: %d %q: %v", path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// TestSpoolSurvivesSIGKILL: the 250 to a message is sent only once the
// message is on disk, so killing the lab the moment the client reads it
// loses nothing; a lab started again on the spool lists the message.
func TestSpoolSurvivesSIGKILL(t *testing.T) {
	state, spool := warmState(t), t.TempDir()
	p := startServe(t, state, "--spool", spool)
	site, err := p.layout.Site("baseline")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", site.SMTP, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	expect := func(code string) string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %s: %v", code, err)
			}
			if !strings.HasPrefix(line, code) {
				t.Fatalf("got %q, want %s", line, code)
			}
			if line[3] == ' ' {
				return line
			}
		}
	}
	expect("220")
	for _, step := range []struct{ send, code string }{
		{"EHLO client.example", "250"}, {"MAIL FROM:<a@client.example>", "250"},
		{"RCPT TO:<postmaster@baseline.mxlab.test>", "250"}, {"DATA", "354"},
		{"Subject: survives SIGKILL\r\n\r\nhello\r\n.", "250"},
	} {
		fmt.Fprintf(c, "%s\r\n", step.send)
		expect(step.code)
	}
	// The 250 is read: kill at once, before anything else can happen.
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	again := startServe(t, state, "--spool", spool)
	var list struct {
		Messages []struct{ ID, Subject, Session, Scenario string }
	}
	again.get(t, "/api/v1/messages", &list)
	if len(list.Messages) != 1 || list.Messages[0].Subject != "survives SIGKILL" || list.Messages[0].Scenario != "baseline" {
		t.Fatalf("after SIGKILL and restart: %+v", list.Messages)
	}
	// The restarted lab's sessions follow the spooled message's, so no
	// id names two sessions.
	c2, err := net.Dial("tcp", again.layout.Scenarios[0].SMTP)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c2, "QUIT\r\n")
	_, _ = io.Copy(io.Discard, c2)
	c2.Close()
	var sessions struct{ Sessions []struct{ ID string } }
	again.get(t, "/api/v1/sessions?wait=60s&since=2000-01-01T00:00:00Z", &sessions)
	if len(sessions.Sessions) != 1 || sessions.Sessions[0].ID <= list.Messages[0].Session {
		t.Fatalf("after the restart, session %+v; want an id after the spooled message's %s", sessions.Sessions, list.Messages[0].Session)
	}
}

// TestTwoEphemeralLabs: two `serve --ephemeral` run side by side, every
// listener of each on its own port, each API answering for its lab, and
// a client (curl if installed, else Go) drives one through its API.
func TestTwoEphemeralLabs(t *testing.T) {
	a := startServe(t, warmState(t))
	b := startServe(t, warmState(t), "--api-token", "s3cret")
	seen := map[string]bool{}
	for _, p := range []*labProc{a, b} {
		addrs := []string{p.layout.DNS, p.layout.API, p.layout.Switchboard}
		for _, s := range p.layout.Scenarios {
			addrs = append(addrs, s.SMTP)
		}
		for _, addr := range addrs {
			host, port, _ := net.SplitHostPort(addr)
			if host != "127.0.0.1" || port == "0" || seen[addr] {
				t.Errorf("address %q: not a distinct loopback address", addr)
			}
			seen[addr] = true
		}
	}
	var h map[string]string
	if code := a.get(t, "/healthz", &h); code != 200 || h["status"] != "ok" {
		t.Errorf("lab a healthz %d %v", code, h)
	}
	if code := b.get(t, "/healthz", nil); code != 200 {
		t.Errorf("lab b healthz without a token: %d", code)
	}
	if code := b.get(t, "/api/v1/sessions", nil); code != 401 {
		t.Errorf("lab b without its token: %d, want 401", code)
	}

	// A failing sni-reject session on lab a, waited for through the API.
	sni, _ := a.layout.Site("sni-reject")
	// since is before the session: the wait answers whether it is
	// registered before or after the session ends.
	since := time.Now().UTC().Add(-time.Millisecond).Format(time.RFC3339Nano)
	done := make(chan string, 1)
	go func() {
		done <- httpClient(t, "GET", "http://"+a.layout.API+"/api/v1/sessions?scenario=sni-reject&wait=60s&since="+since, "", "")
	}()
	c, err := net.DialTimeout("tcp", sni.SMTP, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprint(c, "QUIT\r\n")
	io.Copy(io.Discard, c)
	c.Close()
	select {
	case body := <-done:
		if !strings.Contains(body, `"scenario":"sni-reject"`) {
			t.Errorf("wait answered %s", body)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the wait did not answer")
	}
	put := httpClient(t, "PUT", "http://"+b.layout.API+"/api/v1/switchboard", `{"scenario":"sni-reject"}`, "s3cret")
	if !strings.Contains(put, `"scenario":"sni-reject"`) {
		t.Errorf("PUT switchboard: %s", put)
	}
	metrics := httpClient(t, "GET", "http://"+a.layout.API+"/metrics", "", "")
	if !strings.Contains(metrics, `mxlab_sessions_total{end_reason="quit",scenario="sni-reject"} 1`) {
		t.Errorf("metrics:\n%s", metrics)
	}
}

// httpClient makes one request with curl (the README's examples use it)
// unless real peers are off, else with Go's client, and returns the body.
func httpClient(t *testing.T, method, url, body, token string) string {
	if curl := realpeer.Optional(t, realpeer.Curl); curl != "" {
		args := []string{"-sS", "--max-time", "90", "-X", method, url}
		if body != "" {
			args = append(args, "-d", body)
		}
		if token != "" {
			args = append(args, "-H", "Authorization: Bearer "+token)
		}
		out, err := exec.Command(curl, args...).Output()
		if err != nil {
			t.Errorf("curl %s %s: %v", method, url, err)
		}
		return string(out)
	}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return ""
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// TestServeListenerErrors: serve exits 64, binding nothing, for an API
// beyond loopback without --api-public and a token, and for
// --ephemeral with the shared-port layout's fixed port.
func TestServeListenerErrors(t *testing.T) {
	base := []string{"serve", "--ephemeral", "--state-dir", warmState(t), "--scenario", "baseline", "--sessions-file", "-"}
	for _, tt := range []struct {
		extra  []string
		stderr string
	}{
		{[]string{"--api", "0.0.0.0:0"}, "needs --api-public and a token"},
		{[]string{"--api", "0.0.0.0:0", "--api-token", "x"}, "needs --api-public and a token"},
		{[]string{"--smtp-port", "2525"}, "--ephemeral and --smtp-port"},
	} {
		code, _, errOut := mxlab(t, append(append([]string{}, base...), tt.extra...)...)
		if code != 64 || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", tt.extra, code, errOut, tt.stderr)
		}
	}
}

// TestServeTakesTLSRPTReports: a report POSTed by curl to the lab's
// TLS-RPT endpoint and one mailed to its mailbox both show in the API
// (issue 13).
func TestServeTakesTLSRPTReports(t *testing.T) {
	curl := realpeer.Need(t, realpeer.Curl)
	// A scenario that publishes _smtp._tls: the lab serves the endpoint.
	p := startServe(t, warmState(t), "--scenario", "mta-sts-mismatch")
	ep := p.layout.TLSRPT
	if ep == nil {
		t.Fatal("the manifest has no tlsrpt endpoint")
	}
	host, port, err := net.SplitHostPort(ep.Address)
	if err != nil {
		t.Fatal(err)
	}
	run := realpeer.Run(t, realpeer.Cmd{Path: curl, Args: []string{"-sS", "--fail", "--cacert", p.layout.CACert,
		"--resolve", ep.Host + ":" + port + ":" + host, "-H", "Content-Type: application/tlsrpt+json",
		"--data-binary", "@../../tlsrpt/testdata/rfc8460-appendix-b.json", strings.Replace(ep.URL, ep.Host+"/", ep.Host+":"+port+"/", 1)},
		Timeout: 30 * time.Second})
	if run.Code != 0 {
		t.Fatalf("curl: exit %d: %s", run.Code, run.Stderr)
	}
	// The same kind of report by mail: Google's, readdressed to the lab.
	raw, err := os.ReadFile("../../tlsrpt/testdata/google-no-policy-found.eml")
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.Replace(string(raw), "To: dmarcreports@cardinalhealth.com", "To: "+ep.Mailbox, 1)
	site, err := p.layout.Site("baseline")
	if err != nil {
		t.Fatal(err)
	}
	if err := mailPlain(site.SMTP, "noreply-smtp-tls-reporting@google.com", ep.Mailbox, msg); err != nil {
		t.Fatalf("mailing the report: %v", err)
	}
	var got struct {
		Reports []struct {
			Via    string `json:"via"`
			Report struct {
				Org string `json:"organization-name"`
			} `json:"report"`
		} `json:"reports"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code := p.get(t, "/api/v1/tlsrpt", &got); code != 200 {
			t.Fatalf("GET /api/v1/tlsrpt: %d", code)
		}
		if len(got.Reports) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	vias := map[string]string{}
	for _, r := range got.Reports {
		vias[r.Via] = r.Report.Org
	}
	if vias["https"] != "Company-X" || vias["mailto"] != "Google Inc." {
		t.Errorf("reports %+v: want one by https and Google's by mailto", got)
	}
}

// mailPlain delivers one message without STARTTLS (net/smtp's SendMail
// would verify the lab's certificate against the system's roots).
func mailPlain(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("reporter.test"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
