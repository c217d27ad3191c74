package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuiltin(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	// The first scenarios' names are a public contract
	// (docs/contracts.md): they stay, in this order; new ones may join.
	want := []string{"baseline", "no-starttls", "sni-reject", "no-shared-cipher", "self-signed", "tlsa-mismatch", "submission"}
	var kept []string
	for _, n := range c.Names() {
		if slices.Contains(want, n) {
			kept = append(kept, n)
		}
	}
	if got := strings.Join(kept, ","); got != strings.Join(want, ",") {
		t.Errorf("Names() = %s: the contract's %s are not all there in order", strings.Join(c.Names(), ","), strings.Join(want, ","))
	}
	for _, s := range c.All() {
		t.Run(s.Name, func(t *testing.T) {
			if s.Title == "" || s.Lesson == "" || s.Fix == "" || s.Incident == "" {
				t.Errorf("%s: title, incident, lesson and fix are all required documentation", s.File)
			}
			if _, err := c.Dialect(s.Imitates); err != nil {
				t.Error(err)
			}
			if s.Port == 0 {
				t.Errorf("%s: built-in scenarios need a documented default port", s.File)
			}
		})
	}
}

func TestGetUnknownListsNames(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get("sni-rejct")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("Get: err = %v, want ErrUnknown", err)
	}
	if !strings.Contains(err.Error(), "sni-reject") || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("error does not list the valid names: %v", err)
	}
	if _, err := c.Select([]string{"baseline", "nope"}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Select with an unknown name: err = %v", err)
	}
	got, err := c.Select([]string{"submission", "baseline"})
	if err != nil || len(got) != 2 || got[0].Name != "baseline" {
		t.Errorf("Select keeps catalogue order: %v, %v", got, err)
	}
}

const goodUser = `name: mine
summary: a user scenario
imitates: postfix
port: 11000
`

func TestLoadUserScenarios(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr string // empty: must load
	}{
		{"good", goodUser, ""},
		{"unknown key", goodUser + "colour: blue\n", "mine.yaml: line 5: field colour not found"},
		{"wrong type", goodUser + "tls:\n  session_tickets: maybe\n", "mine.yaml: line 6"},
		{"bad enum", goodUser + "tls:\n  certificate: stolen\n", `tls.certificate: unknown value "stolen"`},
		{"bad condition", goodUser + "tls:\n  reject:\n    - when: sometimes\n      alert: 40\n", `tls.reject[0].when: unknown value "sometimes"`},
		{"bad alert", goodUser + "tls:\n  reject:\n    - when: always\n      alert: grumpy\n", `tls.reject[0].alert: tlsalert: unknown alert "grumpy"`},
		{"unknown dialect", strings.Replace(goodUser, "postfix", "qmail", 1), `imitates: unknown name "qmail" (known: exim, postfix, sendmail)`},
		{"duplicate name", strings.Replace(goodUser, "mine", "baseline", 1), `scenario "baseline" is already defined in builtin/baseline.yaml`},
		{"port clash", strings.Replace(goodUser, "11000", "10025", 1), "port: 10025 is already the port of baseline"},
		{"bad name", strings.Replace(goodUser, "mine", "Mine_1", 1), `name: "Mine_1" is not a DNS label`},
		{"bad placeholder", goodUser + "mx: \"{random}\"\n", "mx: unknown placeholder {random}"},
		{"tlsa without cert", goodUser + "smtp:\n  starttls: false\ntls:\n  certificate: none\ndns:\n  tlsa: current\n", `dns.tlsa: "current" needs a certificate`},
		{"no cert no rule", goodUser + "tls:\n  certificate: none\n", "tls.reject: a scenario that offers STARTTLS without a certificate needs a rule with when: always"},
		{"file without paths", goodUser + "tls:\n  certificate: file\n", "tls.cert_file, tls.key_file: both are required"},
		{"versions reversed", goodUser + "tls:\n  min_version: \"1.3\"\n  max_version: \"1.2\"\n", "tls.min_version: 1.3 is above tls.max_version 1.2"},
		{"bad mechanism", goodUser + "smtp:\n  auth:\n    mechanisms: [CRAM-MD5]\n", `smtp.auth.mechanisms[0]: unknown value "CRAM-MD5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load([]string{dir}, nil, "")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				s, err := c.Get("mine")
				if err != nil {
					t.Fatal(err)
				}
				if s.MX != "mx" || s.Host != "mx" || s.TLS.Certificate != CertCASigned || s.Kind != KindMX {
					t.Errorf("defaults not applied: %+v", s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadInlineAndDialects(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "servers"), 0o755); err != nil {
		t.Fatal(err)
	}
	dialect := `name: qmail
software: netqmail 1.06
banner: "{host} ESMTP"
ehlo_greeting: "{host}"
replies:
  helo: "250 {host}"
  mail: "250 ok"
  rcpt: "250 ok"
  data: "354 go ahead"
  queued: "250 ok {queue_id} qp 1"
  rset: "250 flushed"
  noop: "250 ok"
  quit: "221 {host}"
  unknown: "502 unimplemented (#5.5.1)"
  starttls: "220 ready for tls"
  starttls-not-offered: "502 unimplemented (#5.5.1)"
  tls-already-active: "502 unimplemented (#5.5.1)"
  timeout: "451 timeout (#4.4.2)"
`
	if err := os.WriteFile(filepath.Join(dir, "servers", "qmail.yaml"), []byte(dialect), 0o644); err != nil {
		t.Fatal(err)
	}
	inline := []map[string]any{{"name": "q", "summary": "inline", "imitates": "qmail"}}
	c, err := Load([]string{dir}, inline, "mxlab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Get("q")
	if err != nil || s.File != "mxlab.yaml: scenarios[0]" {
		t.Fatalf("inline scenario: %+v, %v", s, err)
	}
	inline[0]["smtp"] = map[string]any{"banner": 5, "bogus": true}
	if _, err := Load([]string{dir}, inline, "mxlab.yaml"); err == nil || !strings.Contains(err.Error(), "mxlab.yaml: scenarios[0]") || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("inline error does not name the source and key: %v", err)
	}
	bad := strings.Replace(dialect, "  timeout: \"451 timeout (#4.4.2)\"\n", "", 1)
	bad = strings.Replace(bad, `"250 ok {queue_id} qp 1"`, `"ok"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "servers", "qmail.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]string{dir}, nil, ""); err == nil || !strings.Contains(err.Error(), `replies.queued: "ok" does not start with a reply code`) {
		t.Errorf("bad dialect error = %v", err)
	}
}

func TestLoadMissingDir(t *testing.T) {
	if _, err := Load([]string{"/nonexistent/mxlab"}, nil, ""); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}
