package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/scenarios"
)

// TestDefaultMatrix runs every built-in profile against every MX scenario
// of an in-process lab: no cell may differ from its evidenced expectation.
func TestDefaultMatrix(t *testing.T) {
	l, err := lab.Start(lab.Config{StateDir: t.TempDir(), DNS: "127.0.0.1:0", Addressing: lab.Addressing{Ephemeral: true}, SessionsFile: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pc, err := profiles.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Layout: l.Layout(), Roots: l.CA().CAPool(), Profiles: pc.All(), Scenarios: sc.All()})
	if err != nil {
		t.Fatal(err)
	}
	mx := 0
	for _, s := range sc.All() {
		if s.Kind == scenarios.KindMX {
			mx++
		}
	}
	if want := mx * len(pc.All()); len(res.Cells) != want {
		t.Errorf("%d cells, want %d (submission is left out)", len(res.Cells), want)
	}
	for _, c := range res.Cells {
		if c.Match != nil && !*c.Match {
			t.Errorf("%s × %s: got %s (%s), expected %s — %s", c.Scenario, c.Profile, c.Outcome, c.Reason, *c.Expected, *c.Evidence)
		}
		if c.Expected != nil && c.Evidence == nil {
			t.Errorf("%s × %s: an expectation without evidence", c.Scenario, c.Profile)
		}
	}
	// Every expectation names a real profile.
	for _, s := range sc.All() {
		for p := range s.Expectations {
			if _, err := pc.Get(p); err != nil {
				t.Errorf("%s: expectations: %v", s.File, err)
			}
		}
	}
	var buf bytes.Buffer
	res.WriteText(&buf, false)
	if !strings.Contains(buf.String(), "sni-reject: ") || !strings.Contains(buf.String(), " match, ") {
		t.Errorf("text output:\n%s", buf.String())
	}
	data, _ := json.Marshal(res)
	var back struct {
		Cells []map[string]any `json:"cells"`
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Cells) != len(res.Cells) {
		t.Fatalf("json: %v", err)
	}
	for _, k := range []string{"scenario", "profile", "outcome", "reason", "expected", "evidence", "match"} {
		if _, ok := back.Cells[0][k]; !ok {
			t.Errorf("json cell lacks %q: %v", k, back.Cells[0])
		}
	}
	if os.Getenv("MXLAB_PRINT_MATRIX") != "" {
		t.Log("\n" + buf.String())
	}
}
