package server

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/scenarios"
)

// TestCredentialsNeverKept: a pipelining client whose AUTH is refused at
// once has already sent its base64 credentials; they reach neither the
// record, nor the transcript (even where the imitated server echoes an
// unknown line, as sendmail does), nor the log.
func TestCredentialsNeverKept(t *testing.T) {
	user := base64.StdEncoding.EncodeToString([]byte("alice"))
	pass := base64.StdEncoding.EncodeToString([]byte("s3cret-pass"))
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cret-pass"))
	for _, tc := range []struct {
		name, scenario string
		pipeline       []string // sent in one write after EHLO
		replies        int
	}{
		// Before TLS the submission service answers AUTH with 530.
		{"LOGIN before TLS", "submission", []string{"AUTH LOGIN", user, pass, "QUIT"}, 4},
		{"PLAIN before TLS", "submission", []string{"AUTH PLAIN", plain, "QUIT"}, 3},
		// sendmail's dialect echoes an unknown line in its 500.
		{"PLAIN not offered, sendmail", "no-starttls", []string{"AUTH PLAIN", plain, "QUIT"}, 3},
		{"client closes in the middle of a credential", "submission", []string{"AUTH LOGIN", user + "\r\n" + pass[:4]}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log netns.LockedBuffer
			ts := startScenario(t, tc.scenario, func(_ *scenarios.Scenario, c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			d := ts.greeted(t)
			payload := strings.Join(tc.pipeline, "\r\n")
			if strings.HasSuffix(payload, pass[:4]) {
				if _, err := d.Conn.Write([]byte(payload)); err != nil { // no line end: closed mid-line
					t.Fatal(err)
				}
			} else {
				d.Send(payload)
			}
			for range tc.replies {
				d.Reply()
			}
			d.Conn.Close()
			r := ts.waitRecords(t, 1)[0]
			_, _, tr, _ := ts.sessions.Session(r.ID)
			rec, _ := json.Marshal(r)
			steps, _ := json.Marshal(tr.Snapshot())
			for _, secret := range []string{user, pass, pass[:4], plain, "alice", "s3cret"} {
				for where, text := range map[string]string{"record": string(rec), "transcript": string(steps), "log": log.String()} {
					if strings.Contains(text, secret) {
						t.Errorf("%q in the %s: %s", secret, where, text)
					}
				}
			}
			if !strings.Contains(string(rec), `"***"`) {
				t.Errorf("the credential lines are not counted as redacted commands: %s", rec)
			}
		})
	}
}
