package msgstore

import (
	"testing"
	"time"
)

// FuzzParse: whatever a client sends (the message) or a file holds (the
// spool), the header and trace parsers neither panic nor point outside
// the input, and a trace the lab wrote always comes back whole.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Subject: hello\r\nTo: a@b\r\n\r\nbody\r\n"), "a@b")
	f.Add([]byte("X: 1\r\n folded\r\n\tagain\r\n\r\n"), "")
	f.Add([]byte("Return-Path: <a>\r\nX-Mxlab-Received: nope\r\n"), "x\ny")
	f.Add([]byte("\r\n"), "<>")
	f.Fuzz(func(t *testing.T, msg []byte, from string) {
		hdrs, at := parseHeader(msg)
		if at < 0 || at > len(msg) {
			t.Fatalf("body at %d of %d", at, len(msg))
		}
		for _, h := range hdrs {
			if h.Name == "" {
				t.Fatal("empty field name")
			}
		}
		envelopeOf("id", msg)
		env := Envelope{Session: "s-1", Scenario: "x", From: from, To: []string{from}, Received: time.Unix(1, 0)}
		raw := append(traceFields(env), msg...)
		trace, body := splitTrace(raw)
		if len(trace) != 5 || string(body) != string(msg) {
			t.Fatalf("trace %v, body %q, want %q", trace, body, msg)
		}
	})
}
