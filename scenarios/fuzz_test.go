package scenarios

import (
	"io/fs"
	"strings"
	"testing"
)

// FuzzScenarioFile feeds scenario files (a user's own, read from disk) to
// the loader: it must return an error or a scenario that validates again,
// never panic. Seeded with every built-in scenario.
func FuzzScenarioFile(f *testing.F) {
	files, err := fs.Glob(builtinFS, "builtin/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := fs.ReadFile(builtinFS, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: x\nsummary: s\nimitates: postfix\ntls: {not_before: \"-99999999d\"}\n"))
	f.Add([]byte("name: x\nsummary: s\nimitates: postfix\nfaults: [{at: rcpt, do: reply, reply: \"550\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newCatalogue()
		if err := c.addScenarioData("fuzz.yaml", data); err != nil {
			if !strings.HasPrefix(err.Error(), "scenarios: fuzz.yaml: ") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		s := c.list.Items[0]
		if err := s.validate(); err != nil {
			t.Errorf("a loaded scenario does not validate again: %v", err)
		}
		if _, err := s.TLS.NotBefore.Duration("tls.not_before"); err != nil {
			t.Errorf("loaded with a bad not_before: %v", err)
		}
		if _, err := s.TLS.NotAfter.Duration("tls.not_after"); err != nil {
			t.Errorf("loaded with a bad not_after: %v", err)
		}
	})
}
