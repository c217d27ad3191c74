package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/lab"
)

// mxlab runs the CLI in-process and returns exit code, stdout, stderr.
func mxlab(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestScenariosCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"list", []string{"scenarios"}, 0, []string{"baseline", "no-starttls", "sni-reject", "no-shared-cipher", "self-signed", "tlsa-mismatch", "submission"}, ""},
		{"markdown", []string{"scenarios", "--format", "markdown"}, 0, []string{"| `sni-reject` | exim | 10027 |"}, ""},
		{"json", []string{"scenarios", "--format", "json"}, 0, []string{`"name":"sni-reject"`}, ""},
		{"lesson", []string{"scenarios", "sni-reject"}, 0, []string{"INCIDENT", "LESSON", "FIX", "A disallowed SNI server name has been received.", "Exim 4.96"}, ""},
		{"unknown", []string{"scenarios", "sni-rejct"}, 64, nil, `unknown name "sni-rejct" (valid: baseline, no-starttls, sni-reject`},
		{"bad format", []string{"scenarios", "--format", "yaml"}, 64, nil, `--format "yaml"`},
		{"bad flag", []string{"scenarios", "--colour"}, 64, nil, "unknown flag: --colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := mxlab(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.stderr)
			}
		})
	}
}

// TestConfigErrorsFromEnvAndFlags: a bad value from the environment
// names the variable; a bad flag value names the flag; neither shows Go's
// function or type names (issue 15).
func TestConfigErrorsFromEnvAndFlags(t *testing.T) {
	t.Setenv("MXLAB_TIMEOUTS_COMMAND", "5")
	code, _, errOut := mxlab(t, "scenarios")
	if code != 78 || !strings.Contains(errOut, `MXLAB_TIMEOUTS_COMMAND: timeouts.command: "5" is not a duration`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	t.Setenv("MXLAB_TIMEOUTS_COMMAND", "")
	code, _, errOut = mxlab(t, "serve", "--smtp-port", "abc")
	if code != 64 || !strings.Contains(errOut, `--smtp-port: "abc" is not a whole number`) || strings.Contains(errOut, "strconv") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file, stderr string
	}{
		{"unknown key", write("a.yaml", "zone: x.test\nsmtp:\n  prot: 25\n"), `a.yaml: line 3: unknown key "smtp.prot"`},
		{"wrong type", write("b.yaml", "smtp:\n  port: twenty-five\n"), `b.yaml: line 2: smtp.port: "twenty-five" is not a whole number`},
		{"duration without unit", write("e.yaml", "timeouts:\n  command: 5\n"), `e.yaml: line 2: timeouts.command: "5" is not a duration such as 30s or 5m`},
		{"not yaml", write("c.yaml", "zone: [\n"), "c.yaml"},
		{"bad scenario", write("d.yaml", "scenarios:\n  - name: x\n    summary: y\n    imitates: qmail\n"), `d.yaml: scenarios[0]: imitates: unknown name "qmail"`},
		{"missing file", filepath.Join(dir, "nope.yaml"), "nope.yaml"},
		// Found by FuzzConfig: Go's types and mapstructure's words.
		{"scenario not a mapping", write("f.yaml", "scenarios:\n  - 00\n"), `f.yaml: scenarios[0]: want a scenario (a mapping of keys to values)`},
		{"scenarios not a list", write("g.yaml", "scenarios: 7\n"), `g.yaml: line 1: scenarios: "7" is not a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := mxlab(t, "scenarios", "--config", tt.file)
			if code != 78 {
				t.Errorf("exit %d, want 78 (EX_CONFIG); stderr %q", code, errOut)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.stderr)
			}
		})
	}
}

func TestTLSACommand(t *testing.T) {
	store, err := certs.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := store.Leaf(certs.LeafSpec{Name: "x", DNSNames: []string{"mx.example.test"}, Key: certs.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := mxlab(t, "tlsa", leaf.CertPath)
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 6 {
		t.Errorf("exit %d, %d lines (want 6 DANE-EE combinations):\n%s", code, len(strings.Split(out, "\n")), out)
	}
	want, _ := certs.NewTLSA(leaf.Cert, 3, 1, 1)
	code, out, _ = mxlab(t, "tlsa", leaf.CertPath, "--usage", "3", "--selector", "1", "--matching", "1", "--name", "mx.example.test")
	if code != 0 || strings.TrimSpace(out) != "_25._tcp.mx.example.test. IN TLSA "+want.String() {
		t.Errorf("exit %d: %q", code, out)
	}
	if code, _, errOut := mxlab(t, "tlsa", "/nonexistent.pem"); code != 1 || !strings.Contains(errOut, "nonexistent.pem") {
		t.Errorf("missing file: exit %d %q", code, errOut)
	}
	if code, _, _ := mxlab(t, "tlsa", leaf.CertPath, "--selector", "2"); code != 64 {
		t.Errorf("--selector 2: exit %d, want 64", code)
	}
	if code, _, errOut := mxlab(t, "tlsa", leaf.CertPath, "--name", "bad name!"); code != 64 || !strings.Contains(errOut, "not a host name") {
		t.Errorf("--name 'bad name!': exit %d, want 64: %s", code, errOut)
	}
	if code, _, _ := mxlab(t, "tlsa"); code != 64 {
		t.Errorf("no argument: exit %d, want 64", code)
	}
}

func TestServe(t *testing.T) {
	state := warmState(t)
	manifest := filepath.Join(t.TempDir(), "lab.json")
	probe, err := net.Listen("tcp", "127.0.8.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(probe.Addr().String())
	probe.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--state-dir", state, "--dns", "127.0.0.1:0", "--smtp-port", port,
			"--smtp-net", "127.0.8.0/24", "--manifest", manifest, "--scenario", "baseline", "--scenario", "sni-reject",
			"--api", "127.0.0.1:0", "--switchboard", "127.0.0.1:0"},
			strings.NewReader(""), &out, &errOut)
	}()
	var layout *lab.Layout
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if layout, err = lab.ReadManifest(manifest); err == nil {
			break
		}
	}
	if layout == nil {
		cancel()
		t.Fatalf("no manifest: %v; stderr %s", err, errOut.String())
	}
	if len(layout.Scenarios) != 2 || layout.Scenarios[1].SMTP != "127.0.8.2:"+port {
		t.Errorf("layout %+v", layout.Scenarios)
	}
	c, err := net.DialTimeout("tcp", layout.Scenarios[0].SMTP, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A second lab on the same addresses cannot bind: exit 71.
	code, _, e2 := mxlab(t, "serve", "--state-dir", warmState(t), "--dns", "127.0.0.1:0", "--smtp-port", port,
		"--smtp-net", "127.0.8.0/24", "--scenario", "baseline", "--api", "-", "--switchboard", "-")
	if code != 71 || !strings.Contains(e2, "scenario baseline") || !strings.Contains(e2, "127.0.8.1:"+port) {
		t.Errorf("second serve: exit %d, stderr %q", code, e2)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d, stderr %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errOut.String(), "lab ready") || !strings.Contains(errOut.String(), "disconnect from") {
		t.Errorf("log lacks the ready line or the session line:\n%s", errOut.String())
	}
}

func TestCertsCommand(t *testing.T) {
	code, out, errOut := mxlab(t, "certs", "--state-dir", warmState(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"CA: ", "_10025._tcp.mx.baseline.mxlab.test. IN TLSA 3 1 1 ", "_25._tcp.mx.tlsa-mismatch.mxlab.test. IN TLSA 3 1 1", "no-shared-cipher", "(none)"} {
		if !strings.Contains(out, want) {
			t.Errorf("certs output lacks %q:\n%s", want, out)
		}
	}
}

func TestSendAndMatrix(t *testing.T) {
	state := warmState(t)
	manifest := filepath.Join(t.TempDir(), "lab.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		var o, e bytes.Buffer
		done <- run(ctx, []string{"serve", "--state-dir", state, "--dns", "127.0.0.1:0", "--smtp-port", freePort(t, "127.0.6.1"),
			"--smtp-net", "127.0.6.0/24", "--manifest", manifest, "--sessions-file", "-", "--api", "-", "--switchboard", "-"}, strings.NewReader(""), &o, &e)
	}()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(manifest); err == nil {
			break
		}
	}
	tests := []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@x.baseline.mxlab.test"}, 0, "DELIVERED"},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@x.no-shared-cipher.mxlab.test"}, 75, "alert 40 (handshake_failure)"},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@nowhere.mxlab.test"}, 69, "BOUNCED (dns-nxdomain)"},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-dane", "--to", "a@x.tlsa-mismatch.mxlab.test", "--format", "json"}, 75, `"reason":"tlsa-invalid"`},
		{[]string{"send", "--lab", manifest, "--profile", "nope", "--to", "a@b.test"}, 64, ""},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "not an address"}, 64, ""},
		{[]string{"send", "--lab", "/nonexistent.json", "--profile", "postfix-may", "--to", "a@b.test"}, 78, ""},
		{[]string{"matrix", "--lab", manifest, "--profiles", "postfix-may,postfix-dane", "--format", "json"}, 0, `"cells":[`},
		{[]string{"matrix", "--state-dir", warmState(t), "--profiles", "postfix-verify", "--scenarios", "self-signed,baseline", "--format", "markdown"}, 0, "| self-signed | DEFER untrusted |"},
		{[]string{"profiles"}, 0, "postfix-dane"},
		{[]string{"probe", "--lab", manifest, "x.tlsa-mismatch.mxlab.test"}, 0, "tlsa-invalid"},
		{[]string{"probe", "--lab", manifest, "not-a-domain"}, 64, ""},
		{[]string{"profiles", "postfix-dane"}, 0, "num=65:no matching DANE TLSA records"},
		// Bad input is refused, never taken silently (issue 15).
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@x.submission.mxlab.test", "--auth", "nocolon"}, 64, ""},
		{[]string{"matrix", "--state-dir", warmState(t), "--scenarios", "submission"}, 64, ""},
		{[]string{"send", "--lab", staleManifest(t), "--profile", "postfix-may", "--to", "a@x.baseline.mxlab.test"}, 78, ""},
		// Where a predicted text comes from (issue 15).
		{[]string{"send", "--lab", manifest, "--profile", "proton", "--to", "a@x.no-shared-cipher.mxlab.test"}, 75, "reconstructed, not a quote"},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@y.no-shared-cipher.mxlab.test", "--format", "json"}, 75, `"bounce_text_source":"measured"`},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@z.starttls-454.mxlab.test", "--transcript"}, 0, "  S: 454 4.7.0 TLS not available due to local problem\n"},
		// A new scenario's address rules and faults, end to end.
		{[]string{"send", "--lab", manifest, "--profile", "postfix-may", "--to", "rcpt-550@x.baseline.mxlab.test"}, 69, "550 5.1.1"},
		{[]string{"send", "--lab", manifest, "--profile", "postfix-encrypt", "--to", "a@x.starttls-454.mxlab.test"}, 75, "refused to start TLS: 454 4.7.0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:min(3, len(tt.args))], " "), func(t *testing.T) {
			code, out, errOut := mxlab(t, tt.args...)
			// Text output is wrapped to the width: compare words.
			flat := strings.Join(strings.Fields(out), " ")
			if code != tt.code || !strings.Contains(out, tt.stdout) && !strings.Contains(flat, strings.Join(strings.Fields(tt.stdout), " ")) {
				t.Errorf("mxlab %s: exit %d, want %d; stdout lacks %q?\n%s\n%s", strings.Join(tt.args, " "), code, tt.code, tt.stdout, out, errOut)
			}
		})
	}
	cancel()
	<-done
}

func freePort(t *testing.T, host string) string {
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func TestExplainCommand(t *testing.T) {
	code, out, _ := mxlab(t, "explain", "warning: TLS library problem: error:0A000417:SSL routines::sslv3 alert illegal parameter:ssl/record/rec_layer_s3.c:1605:SSL alert number 47:")
	if code != 0 || !strings.Contains(out, "alert 47 (illegal_parameter)") || !strings.Contains(out, "sni-reject") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	// Not recognised: exit 1, so a CI script can tell (issue 15).
	code, out, _ = mxlab(t, "explain", "550 5.2.2 The email account that you tried to reach is over quota.")
	if code != 1 || !strings.Contains(out, "not a TLS delivery failure I know") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	entries, _ := filepath.Glob("../../explain/testdata/eml/gmail-*.eml")
	if len(entries) == 0 {
		t.Fatal("no .eml in the corpus")
	}
	eml, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"explain", "--format", "json"}, bytes.NewReader(eml), &o, &e); code != 0 || !strings.Contains(o.String(), `"known":true`) {
		t.Errorf("explain < %s: exit %d %s %s", entries[0], code, o.String(), e.String())
	}
	if code, _, _ := mxlab(t, "explain", "  "); code != 64 {
		t.Errorf("blank text: exit %d, want 64", code)
	}
}

// TestServeConfigErrors: mistakes only the lab can see still exit 78 (bad
// configuration) or 64 (an unknown name), with a message naming them.
func TestServeConfigErrors(t *testing.T) {
	base := []string{"serve", "--state-dir", warmState(t), "--dns", "127.0.0.1:0", "--smtp-port", freePort(t, "127.0.6.1"), "--smtp-net", "127.0.6.0/24",
		"--api", "-", "--switchboard", "-"}
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--zone", "bad_zone!"}, 78, `zone "bad_zone!" is not a domain name`},
		{[]string{"--smtp-net", "nonsense"}, 78, "smtp net"},
		{[]string{"--record", "x A 1.2.3"}, 78, `records[0] "x A 1.2.3"`},
		{[]string{"--scenario", "nope"}, 64, `unknown name "nope" (valid: baseline`},
		{[]string{"--state-dir", "/proc/nope/x"}, 78, "state dir"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := mxlab(t, append(append([]string{}, base...), tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, want %d; stderr %q lacks %q", code, tt.code, errOut, tt.stderr)
			}
		})
	}
}

// staleManifest is a manifest whose lab is gone: its DNS address has no
// server.
func staleManifest(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stale.json")
	body := `{"zone":"mxlab.test","dns":"127.0.0.1:` + freePort(t, "127.0.0.1") + `","scenarios":[{"name":"baseline","smtp":"127.0.0.1:10025"}]}`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
