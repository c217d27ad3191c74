package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxlab/mxlab/scenarios"
)

// panicSeen is a log handler that notes a session's panic (recoverPanic
// logs it at Error and the lab goes on, which would hide it from a fuzzer).
type panicSeen struct{ n atomic.Int64 }

func (p *panicSeen) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicSeen) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.n.Add(1)
	}
	return nil
}
func (p *panicSeen) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicSeen) WithGroup(string) slog.Handler      { return p }

// FuzzSession sends arbitrary client bytes to a session of each dialect
// (Postfix, sendmail, Exim: their command parsing and the rewriting of
// go-smtp's replies into theirs) and then closes its side. The session
// must neither panic nor hang: it ends and is recorded. Seeded with the
// client side of the transcripts recorded from real Postfix, Exim and
// sendmail (testdata/transcripts), and with the inputs issue 14's abuse
// probes used.
func FuzzSession(f *testing.F) {
	paths, _ := filepath.Glob("../testdata/transcripts/*.txt")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var client []string
		for _, l := range strings.Split(string(data), "\n") {
			if c, ok := strings.CutPrefix(l, "C: "); ok {
				client = append(client, c)
			}
		}
		for which := range uint8(3) {
			f.Add(which, []byte(strings.Join(client, "\r\n")+"\r\n"))
		}
	}
	for _, s := range []string{
		"EHLO a\r\nBDAT 10 LAST\r\n0123456789",
		"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 99999999999\r\n",
		"EHLO a\r\nAUTH PLAIN\r\nAGFAYg==\r\nAUTH LOGIN\r\n\r\n",
		"EHLO a\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n",
		"EHLO a\r\nMAIL FROM:<a@b> SIZE=x BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<\x00>\r\nDATA\r\n..\r\n.\n.\r\n",
		"HELO {host}{helo}{ip}\r\nVRFY {line}\r\nEXPN x\r\nETRN y\r\nHELP\r\n" + strings.Repeat("x", 5000) + "\r\n",
	} {
		for which := range uint8(3) {
			f.Add(which, []byte(s))
		}
	}
	seen := &panicSeen{}
	servers := make([]*testServer, 0, 3)
	// Sessions are counted as they end: the kept records stop growing at
	// DefaultKeep, which a long fuzz run passes.
	ended := make([]*atomic.Int64, 0, 3)
	for _, name := range []string{"baseline", "no-starttls", "sni-reject"} {
		ts := startScenario(f, name, func(_ *scenarios.Scenario, cfg *Config) {
			cfg.Logger = slog.New(seen)
		})
		n := new(atomic.Int64)
		stop := ts.sessions.WatchSessions(func(e Event) {
			if e.Type == SessionEnd {
				n.Add(1)
			}
		})
		f.Cleanup(stop)
		servers, ended = append(servers, ts), append(ended, n)
	}
	f.Fuzz(func(t *testing.T, which uint8, input []byte) {
		i := int(which) % len(servers)
		ts := servers[i]
		before := ended[i].Load()
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A bound, not a measure: a session that outlives it hangs.
		c.SetDeadline(time.Now().Add(20 * time.Second))
		go func() {
			c.Write(input)
			c.(*net.TCPConn).CloseWrite()
		}()
		if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
			t.Fatalf("reading the lab's replies: %v", err)
		}
		// A bound, not a measure, as above.
		for deadline := time.Now().Add(20 * time.Second); ended[i].Load() <= before; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the session did not end within 20s of the client's close")
			}
		}
		if n := seen.n.Load(); n > 0 {
			t.Fatalf("%d sessions panicked on %q", n, input)
		}
	})
}
