package server

import (
	"strings"
	"testing"
)

// TestBDATRefusedChunk: a refused BDAT's chunk is still read (RFC 3030
// §2) and the refusal answered at once; the chunk, which here holds
// command lines, is never taken for commands. Each once hung 30 s and
// ended as timeout (issue 14).
func TestBDATRefusedChunk(t *testing.T) {
	chunk := "QUIT\r\nRSET" // 10 bytes that would end the session if read as commands
	for _, tc := range []struct {
		name     string
		scenario string
		setup    []string // commands before, each answered 250
		bdat     string
		want     string
	}{
		{"BDAT LAST without MAIL", "baseline", nil, "BDAT 10 LAST", "502 5.5.1 Missing RCPT TO command."},
		{"BDAT without MAIL, not last", "sni-reject", nil, "BDAT 10", "502 5.5.1 Missing RCPT TO command."},
		{"over-size chunk", "baseline", []string{"MAIL FROM:<a@client.example>", "RCPT TO:<b@baseline.mxlab.test>"},
			"BDAT 10 LAST", "552 5.3.4 Error: message file too big"},
		{"over-size chunk, Exim", "sni-reject", []string{"MAIL FROM:<a@client.example>", "RCPT TO:<b@sni-reject.mxlab.test>"},
			"BDAT 10", "552 Message size exceeds maximum permitted"},
		{"unknown second argument", "baseline", nil, "BDAT 10 FIRST", "501 5.5.4 Unknown BDAT argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startScenario(t, tc.scenario, limitsOf(Limits{MessageBytes: 5}))
			d := ts.greeted(t)
			for _, cmd := range tc.setup {
				d.Cmd(cmd, 250)
			}
			d.Send(tc.bdat + "\r\n" + chunk[:len(chunk)-2]) // Send adds the last two bytes, CRLF
			if _, lines := d.Reply(); lines[0] != tc.want {
				t.Errorf("reply %q, want %q", lines[0], tc.want)
			}
			d.Cmd("NOOP", 250)
			d.Cmd("QUIT", 221)
			r := ts.waitRecords(t, 1)[0]
			if r.EndReason != EndQuit || !strings.Contains(r.Counts, "bdat=0/1") || !strings.Contains(r.Counts, "quit=1") {
				t.Errorf("end %q counts %q", r.EndReason, r.Counts)
			}
		})
	}
}
