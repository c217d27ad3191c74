package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/scenarios"
)

// updateREADME rewrites the README's generated sections from what the
// commands print today: go test ./cmd/mxlab -update.
var updateREADME = flag.Bool("update", false, "rewrite the README's generated sections")

const readmePath = "../../README.md"

// TestREADMEMatrix: the README's default matrix is what `mxlab matrix`
// prints today (issue 15: every output in the README is current). The
// grid and its count line are compared; -update rewrites them.
func TestREADMEMatrix(t *testing.T) {
	code, out, errOut := mxlab(t, "matrix", "--state-dir", warmState(t), "--format", "markdown")
	if code != 0 {
		t.Fatalf("mxlab matrix: exit %d: %s", code, errOut)
	}
	var grid []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "|") {
			grid = append(grid, l)
		}
	}
	counts := regexp.MustCompile(`(?m)^(\d+) cells: (\d+) match, (\d+) diverge, (\d+) unverified$`).FindStringSubmatch(out)
	if counts == nil {
		t.Fatalf("no count line in:\n%s", out)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "| scenario | gmail |")
	end := strings.Index(text[max(start, 0):], "\n\n")
	if start < 0 || end < 0 {
		t.Fatal("README: no matrix grid after '| scenario | gmail |'")
	}
	end += start
	countRE := regexp.MustCompile(`\d+ cells: \d+ match their evidenced expectation, none diverge, \d+ are\s+unverified`)
	wantCount := fmt.Sprintf("%s cells: %s match their evidenced expectation, none diverge, %s are\nunverified", counts[1], counts[2], counts[4])
	if counts[3] != "0" {
		t.Errorf("the matrix diverges in %s cells: the README promises none", counts[3])
	}
	if *updateREADME {
		text = text[:start] + strings.Join(grid, "\n") + text[end:]
		text = countRE.ReplaceAllString(text, wantCount)
		if err := os.WriteFile(readmePath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := text[start:end]; got != strings.Join(grid, "\n") {
		t.Errorf("README's matrix differs from what mxlab matrix prints today (go test ./cmd/mxlab -update):\n%s\n--- prints ---\n%s", got, strings.Join(grid, "\n"))
	}
	if got := countRE.FindString(text); strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(wantCount), " ") {
		t.Errorf("README says %q; the matrix prints %q", got, counts[0])
	}
}

// TestREADMEScenarios: every built-in scenario has a row in the README's
// scenario table, with its port, and the table has no other.
func TestREADMEScenarios(t *testing.T) {
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| (\\d+) \\|").FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = m[2]
	}
	for _, s := range cat.All() {
		if port, ok := rows[s.Name]; !ok {
			t.Errorf("README: no row for scenario %s in the scenario table", s.Name)
		} else if port != fmt.Sprint(s.Port) {
			t.Errorf("README: %s on port %s, the catalogue says %d", s.Name, port, s.Port)
		}
		delete(rows, s.Name)
	}
	for name := range rows {
		t.Errorf("README: scenario table row %s is no built-in scenario", name)
	}
}

// TestREADMEScenarioExample: the README's example scenario file loads as
// it is, beside the built-in ones (its knobs are real, its port free).
func TestREADMEScenarioExample(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "```yaml\nname: old-tls\n")
	if start < 0 {
		t.Fatal("README: no example scenario (```yaml\\nname: old-tls)")
	}
	body := text[start+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/old-tls.yaml", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := mxlab(t, "scenarios", "--scenario-dir", dir, "old-tls")
	if code != 0 || !strings.Contains(out, "old-tls") {
		t.Errorf("the README's example scenario does not load: exit %d\n%s%s", code, out, errOut)
	}
}
