package explain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExplain checks that no text makes Explain or ExplainMessage panic and
// that every answer is either complete or "not a TLS delivery failure I
// know". It is seeded with the corpus and testdata/fuzz/FuzzExplain.
func FuzzExplain(f *testing.F) {
	for _, e := range loadCorpus(f) {
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
				if a.Kind != "" || a.Alert != nil || a.Scenario != "" || a.Reproduce != "" || len(a.Causes) > 0 {
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
		}
		check("Explain", Explain(text))
		if a, err := ExplainMessage(strings.NewReader(text)); err == nil {
			check("ExplainMessage", a)
		}
	})
}
