package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/scenarios"
)

// TestTranscriptSteps: the transcript of a session shows both sides'
// lines, the TLS records of STARTTLS and the close; AUTH credentials
// appear nowhere, not in the transcript, the record or the log.
func TestTranscriptSteps(t *testing.T) {
	var logBuf bytes.Buffer
	ts := startScenario(t, "submission", func(_ *scenarios.Scenario, c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	})
	d := ts.greeted(t)
	d.Cmd("STARTTLS", 220)
	if err := d.StartTLS(clientTLS(ts, ts.mx)); err != nil {
		t.Fatal(err)
	}
	d.Cmd("EHLO client.example", 250)
	secret := base64.StdEncoding.EncodeToString([]byte("\x00me\x00hunter2"))
	d.Cmd("AUTH PLAIN "+secret, 235)
	d.Cmd("AUTH LOGIN", 503) // already authenticated
	d.Cmd("QUIT", 221)
	rec := ts.waitRecords(t, 1)[0]
	ts.Close() // the log's last line is written once Close returns
	_, _, tr, ok := ts.sessions.Session(rec.ID)
	if !ok || tr == nil {
		t.Fatal("no transcript")
	}
	snap := tr.Snapshot()
	all, _ := json.Marshal(snap)
	recJSON, _ := json.Marshal(rec)
	for what, text := range map[string]string{"transcript": string(all), "record": string(recJSON), "log": logBuf.String()} {
		if strings.Contains(text, secret) || strings.Contains(text, "hunter2") {
			t.Errorf("the %s holds the AUTH payload", what)
		}
	}
	var kinds []string
	var sawHello, sawPlainAuth bool
	for i, s := range snap.Events {
		if s.Seq != i || s.At.IsZero() {
			t.Errorf("step %d: seq %d at %v", i, s.Seq, s.At)
		}
		kinds = append(kinds, string(s.Kind))
		if s.Record != nil && s.Record.Handshake == "client_hello" && s.From == FromClient {
			sawHello = true
		}
		if s.Kind == StepLine && s.Text == "AUTH PLAIN ***" && s.TLS {
			sawPlainAuth = true
		}
	}
	joined := strings.Join(kinds, " ")
	if !sawHello || !sawPlainAuth || !strings.Contains(joined, "tls-record") || !strings.Contains(joined, "tls-established") ||
		snap.Events[len(snap.Events)-1].Kind != StepClose || snap.Truncated {
		t.Errorf("transcript %s", all)
	}
}

// TestTranscriptBound: a client that talks for ever fills the transcript
// up to its bound, which says so; the close still shows.
func TestTranscriptBound(t *testing.T) {
	ts := startScenario(t, "baseline", nil)
	d := ts.greeted(t)
	for i := 0; i < MaxTranscriptSteps/2+10; i++ {
		d.Cmd("NOOP", 250)
	}
	d.Cmd("QUIT", 221)
	rec := ts.waitRecords(t, 1)[0]
	_, _, tr, _ := ts.sessions.Session(rec.ID)
	snap := tr.Snapshot()
	n := len(snap.Events)
	if !snap.Truncated || n > MaxTranscriptSteps+1 || snap.Events[n-2].Kind != StepNote || snap.Events[n-1].Kind != StepClose {
		t.Errorf("truncated %v, %d events, last %+v %+v", snap.Truncated, n, snap.Events[n-2], snap.Events[n-1])
	}
}
