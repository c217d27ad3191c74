package server

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/scenarios"
)

// TestPanicEndsOneSession: a panic while a command is handled ends that
// session with 421 and a logged stack; the server goes on.
func TestPanicEndsOneSession(t *testing.T) {
	var log netns.LockedBuffer
	ts := startScenario(t, "baseline", func(_ *scenarios.Scenario, c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
		c.commandHook = func(line string) {
			if line == "XPANIC" {
				panic("injected by the test")
			}
		}
	})
	d := ts.greeted(t)
	if got := d.Cmd("XPANIC", 421)[0]; got != "421 4.3.0 mx.baseline.mxlab.test Error: internal error in the lab, closing connection" {
		t.Errorf("reply %q", got)
	}
	expectClosed(t, d)

	// Another session is served as ever.
	d2 := ts.greeted(t)
	d2.Cmd("QUIT", 221)

	recs := ts.waitRecords(t, 2)
	var panicked *Record
	for i := range recs {
		if len(recs[i].Notes) > 0 && strings.HasPrefix(recs[i].Notes[0], "panic: injected by the test") {
			panicked = &recs[i]
		}
	}
	if panicked == nil || panicked.EndReason != EndClosedByLab {
		t.Fatalf("records %+v", recs)
	}
	if out := log.String(); !strings.Contains(out, "panic: injected by the test") || !strings.Contains(out, "recoverPanic") {
		t.Errorf("log has no panic with its stack:\n%s", out)
	}
}
