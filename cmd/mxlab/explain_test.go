package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestExplainExitCodes checks the exit codes a CI script relies on: 0 for
// a TLS delivery failure explain knows, 1 for a text it does not, 64 for
// bad usage (issue 15).
func TestExplainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"known", []string{"explain", "TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71): SSL alert number 47"}, 0},
		{"known-json", []string{"explain", "--format", "json", "451 5.7.3 STARTTLS is required to send mail"}, 0},
		{"sender-side", []string{"explain", "status=deferred (client TLS configuration problem)"}, 0},
		{"unrelated", []string{"explain", "552 5.2.2 The email account that you tried to reach is over quota."}, 1},
		{"unrelated-json", []string{"explain", "--format", "json", "Trusted TLS connection established to mx.example.org"}, 1},
		{"blank", []string{"explain", "  "}, 64},
		{"bad-format", []string{"explain", "--format", "markdown", "SSL alert number 47"}, 64},
		{"two-args", []string{"explain", "a", "b"}, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out, errOut := mxlab(t, tt.args...); code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
		})
	}
}

// TestExplainJSON checks the JSON contract: known, kind, alert, side and
// scenario always present (scenario "" when no scenario fits), and the
// ranked candidates, each with its scenario and what tells it apart.
func TestExplainJSON(t *testing.T) {
	tests := []struct {
		name, text, kind, scenario string
		candidates                 int // at least
	}{
		// An alert decides the scenario; it comes first.
		{"alert-47", "TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71): SSL alert number 47", "tls-alert", "sni-reject", 1},
		// No alert: no single scenario, ranked candidates instead.
		{"no-alert", "Diagnostic-Code: SMTP; 403 4.7.0 TLS handshake failed.", "handshake-failure", "", 3},
		// The sender's own policy: known, no scenario.
		{"sender-policy", "status=deferred (client TLS configuration problem)", "sender-policy", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := mxlab(t, "explain", "--format", "json", tt.text)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &raw); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			for _, k := range []string{"known", "kind", "alert", "side", "scenario", "candidates"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("no %q in %s", k, out)
				}
			}
			var a struct {
				Known      bool   `json:"known"`
				Kind       string `json:"kind"`
				Scenario   string `json:"scenario"`
				Candidates []struct {
					Scenario  *string `json:"scenario"`
					TellApart string  `json:"tell_apart"`
				} `json:"candidates"`
			}
			if err := json.Unmarshal([]byte(out), &a); err != nil {
				t.Fatal(err)
			}
			if !a.Known || a.Kind != tt.kind || a.Scenario != tt.scenario || len(a.Candidates) < tt.candidates {
				t.Errorf("got known %v kind %q scenario %q, %d candidates; want %q %q >= %d", a.Known, a.Kind, a.Scenario, len(a.Candidates), tt.kind, tt.scenario, tt.candidates)
			}
			for i, c := range a.Candidates {
				if c.Scenario == nil || c.TellApart == "" {
					t.Errorf("candidate %d lacks scenario or tell_apart: %s", i, out)
				}
			}
			if tt.scenario != "" && len(a.Candidates) > 0 && *a.Candidates[0].Scenario != tt.scenario {
				t.Errorf("first candidate %q, want %q", *a.Candidates[0].Scenario, tt.scenario)
			}
		})
	}
	// Text output lists the candidates when none decides.
	if _, out, _ := mxlab(t, "explain", "Diagnostic-Code: SMTP; 403 4.7.0 TLS handshake failed."); !strings.Contains(out, "candidates, most likely first:") || !strings.Contains(out, "none of the lab's scenarios") {
		t.Errorf("text output without candidates:\n%s", out)
	}
}
