package explain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExplain checks that no text makes Explain or ExplainMessage panic and
// that every answer is either complete or "not a TLS delivery failure I
// know". It is seeded with the corpus, the holdout and
// testdata/fuzz/FuzzExplain.
func FuzzExplain(f *testing.F) {
	for _, e := range append(loadCorpus(f), loadEntries(f, "holdout.yaml")...) {
		if e.Text != "" {
			f.Add(e.Text)
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", "eml", e.EML))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, text string) {
		check := func(what string, a Answer) {
			if !a.Known {
				if a.Kind != "" || a.Alert != nil || a.Scenario != "" || a.Reproduce != "" || len(a.Causes) > 0 || len(a.Candidates) > 0 {
					t.Errorf("%s: unknown answer with fields: %+v", what, a)
				}
				return
			}
			if a.Kind == "" || a.ReceiverDid == "" || len(a.Causes) == 0 || a.Fix == "" {
				t.Errorf("%s: incomplete answer: %+v", what, a)
			}
			if (a.Scenario == "") != (a.Reproduce == "") {
				t.Errorf("%s: scenario %q with reproduce %q", what, a.Scenario, a.Reproduce)
			}
			if (a.Kind == KindTLSAlert) != (a.Alert != nil) {
				t.Errorf("%s: kind %q with alert %v", what, a.Kind, a.Alert)
			}
			if len(a.Candidates) == 0 {
				t.Errorf("%s: known answer without candidates: %+v", what, a)
			}
			if a.Scenario != "" && (len(a.Candidates) == 0 || a.Candidates[0].Scenario != a.Scenario) {
				t.Errorf("%s: scenario %q is not the first candidate: %+v", what, a.Scenario, a.Candidates)
			}
			for _, c := range a.Candidates {
				if (c.Scenario == "") != (c.Reproduce == "") || c.TellApart == "" {
					t.Errorf("%s: candidate %+v", what, c)
				}
			}
		}
		check("Explain", Explain(text))
		if a, err := ExplainMessage(strings.NewReader(text)); err == nil {
			check("ExplainMessage", a)
		}
	})
}
