package msgstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func envelope(session string) Envelope {
	return Envelope{Session: session, Scenario: "baseline", From: "a@client.example",
		To: []string{"b@baseline.mxlab.test", "c@baseline.mxlab.test"}, Received: time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)}
}

func ids(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Session)
	}
	return out
}

// TestBounds: the oldest messages go first, by count and by bytes, each
// drop is logged, and the newest message stays even alone over the bound.
func TestBounds(t *testing.T) {
	tests := []struct {
		name        string
		maxMessages int
		maxBytes    int64
		sizes       []int
		want        []string // sessions left, newest first
		logged      int      // drop lines
	}{
		{"count", 2, -1, []int{10, 10, 10}, []string{"s-3", "s-2"}, 1},
		{"bytes", -1, 2 * (200 + 1000), []int{1000, 1000, 1000}, []string{"s-3", "s-2"}, 1},
		{"one big", -1, 100, []int{10, 5000}, []string{"s-2"}, 1},
		{"within", 5, 1 << 20, []int{10, 10}, []string{"s-2", "s-1"}, 0},
		// 2,500 drops: the first, the 1,000th and the 2,000th are logged.
		{"steady", 1, -1, slices.Repeat([]int{10}, 2501), []string{"s-" + string(rune('1'+2500))}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			s, err := Open(Config{MaxMessages: tt.maxMessages, MaxBytes: tt.maxBytes, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range tt.sizes {
				if _, err := s.Deliver(envelope("s-"+string(rune('1'+i))), bytes.Repeat([]byte("x"), n)); err != nil {
					t.Fatal(err)
				}
			}
			if got := ids(s.List()); !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
			if drops := strings.Count(log.String(), "dropped the oldest message"); drops != tt.logged {
				t.Errorf("%d drop lines, want %d:\n%s", drops, tt.logged, log.String())
			}
			if n := strings.Count(log.String(), fmt.Sprintf("dropped=%d ", len(tt.sizes)-len(tt.want))); tt.logged > 0 && tt.name != "steady" && n != 1 {
				t.Errorf("the drop line does not count the drops:\n%s", log.String())
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, _ := Open(Config{})
	if s.cfg.MaxMessages != DefaultMaxMessages || s.cfg.MaxBytes != DefaultMaxBytes {
		t.Errorf("memory defaults %d %d", s.cfg.MaxMessages, s.cfg.MaxBytes)
	}
	s, _ = Open(Config{Spool: t.TempDir()})
	if s.cfg.MaxMessages != 0 || s.cfg.MaxBytes != 0 {
		t.Errorf("a spool has bounds by default: %d %d", s.cfg.MaxMessages, s.cfg.MaxBytes)
	}
}

// TestSpoolRestart: a store opened again on the same spool lists every
// message with its envelope, newest first; a file a mail reader moved
// to cur/ is still found, one left in tmp/ is not a message.
func TestSpoolRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Spool: dir})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("Delivered-To: forwarded@example.org\r\nSubject: first\r\n\r\nbody\r\n")
	first, err := s.Deliver(envelope("s-000001"), body)
	if err != nil {
		t.Fatal(err)
	}
	env := envelope("s-000002")
	env.Received = env.Received.Add(time.Second)
	second, err := s.Deliver(env, []byte("Subject: second\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "new", first.ID), filepath.Join(dir, "cur", first.ID+":2,S")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tmp", "half"), []byte("Subject: never acknowledged\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	again, err := Open(Config{Spool: dir})
	if err != nil {
		t.Fatal(err)
	}
	list := again.List()
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("after restart %+v", list)
	}
	got := list[1]
	if got.Session != "s-000001" || got.Scenario != "baseline" || got.From != "a@client.example" ||
		!slices.Equal(got.To, first.To) || !got.Received.Equal(first.Received) || got.Size != int64(len(body)) || got.Subject != "first" {
		t.Errorf("restored %+v, want %+v", got, first)
	}
	m, err := again.Get(first.ID)
	if err != nil || m.Headers[0] != (Header{"Delivered-To", "forwarded@example.org"}) {
		t.Errorf("Get: %+v %v", m.Headers, err)
	}
	if n, err := again.Clear(); n != 2 || err != nil {
		t.Errorf("Clear: %d %v", n, err)
	}
	for _, sub := range []string{"new", "cur"} {
		if des, _ := os.ReadDir(filepath.Join(dir, sub)); len(des) != 0 {
			t.Errorf("%s/ not empty after Clear", sub)
		}
	}
	if _, err := again.Raw(first.ID); err == nil {
		t.Error("Raw of a cleared message")
	}
}

func TestParseHeader(t *testing.T) {
	good := []struct {
		in   string
		want []Header
		body string
	}{
		{"Subject: a\r\nTo: b\r\n\r\nbody", []Header{{"Subject", "a"}, {"To", "b"}}, "body"},
		{"Subject: folded\r\n  line\r\n\r\n", []Header{{"Subject", "folded line"}}, ""},
		{"Subject:tight\n\nbare LF", []Header{{"Subject", "tight"}}, "bare LF"},
		{"no header at all", nil, "no header at all"},                        // no colon: all body
		{"X: 1\r\nnot a field\r\n", []Header{{"X", "1"}}, "not a field\r\n"}, // body without the empty line
		{" continuation first\r\n", nil, " continuation first\r\n"},
		{"", nil, ""},
	}
	for _, tt := range good {
		hdrs, at := parseHeader([]byte(tt.in))
		if !slices.Equal(hdrs, tt.want) || tt.in[at:] != tt.body {
			t.Errorf("parseHeader(%q) = %v, body %q; want %v, %q", tt.in, hdrs, tt.in[at:], tt.want, tt.body)
		}
	}
}

func TestTraceRoundTrip(t *testing.T) {
	env := envelope("s-1")
	env.From = "evil\r\nX-Injected: yes"
	raw := append(traceFields(env), "Subject: x\r\n\r\n"...)
	trace, body := splitTrace(raw)
	if string(body) != "Subject: x\r\n\r\n" || len(trace) != 6 {
		t.Errorf("split %v %q", trace, body)
	}
	m := envelopeOf("id", raw)
	if m.From != "evil  X-Injected: yes" || m.Session != "s-1" || len(m.To) != 2 {
		t.Errorf("envelope %+v", m)
	}
}
