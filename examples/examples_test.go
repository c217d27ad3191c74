// Package examples_test runs the CI recipes of examples/ with their
// default expectations, so that they cannot rot: test-my-postfix.sh with
// a Debian main.cf (smtp_tls_security_level = may), test-my-exim.sh with
// Debian's update-exim4.conf.conf for an internet site, and a check that
// github-actions.yml is a workflow that runs one of them.
package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// scriptTimeout bounds one run of a recipe (about 10 s here); each of
// the script's own waits is bounded too (MXLAB_CI_TIMEOUT).
const scriptTimeout = 5 * time.Minute

// buildMxlab builds the mxlab binary the scripts are given.
func buildMxlab(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mxlab")
	goTool := filepath.Join(runtimeGOROOT(), "bin", "go")
	r := realpeer.Run(t, realpeer.Cmd{Path: goTool, Args: []string{"build", "-o", bin, "../cmd/mxlab"}, Timeout: 5 * time.Minute})
	if r.Code != 0 {
		t.Fatalf("go build ./cmd/mxlab: exit %d\n%s", r.Code, r.All())
	}
	return bin
}

// runtimeGOROOT is the GOROOT of the go command running the tests (go
// test sets it), else the one in PATH.
func runtimeGOROOT() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// runRecipe runs a script with its default EXPECT and fails with
// everything it printed unless it exits 0.
func runRecipe(t *testing.T, script, config, mxlab string, env ...string) {
	t.Helper()
	path, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	r := realpeer.Run(t, realpeer.Cmd{
		Path:    "/bin/bash",
		Args:    []string{path, config, mxlab},
		Env:     append([]string{"MXLAB_EXPECT=", "MXLAB_CI_TIMEOUT=120"}, env...),
		Timeout: scriptTimeout,
	})
	if r.Code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", script, config, r.Code, r.All())
	}
	for _, s := range []string{"baseline", "no-starttls", "sni-reject", "no-shared-cipher", "self-signed", "tlsa-mismatch"} {
		if !strings.Contains(r.Stdout, s+" ") {
			t.Errorf("%s printed no verdict for %s:\n%s", script, s, r.All())
		}
	}
}

func TestPostfixRecipe(t *testing.T) {
	realpeer.NeedNetns(t)
	realpeer.Need(t, realpeer.Jq)
	realpeer.Need(t, realpeer.PostfixMaster)
	realpeer.Need(t, realpeer.Postconf)
	runRecipe(t, "test-my-postfix.sh", "main.cf", buildMxlab(t))
}

// eximPkgs are the packages test-my-exim.sh unpacks (the interop suite's).
var eximPkgs = []string{"exim4-base", "exim4-config", "exim4-daemon-light"}

func TestEximRecipe(t *testing.T) {
	realpeer.NeedNetns(t)
	realpeer.Need(t, realpeer.Jq)
	realpeer.Need(t, realpeer.Unshare)
	// The interop suite's .deb cache: the suite downloads them once.
	realpeer.Debs(t, eximPkgs...)
	runRecipe(t, "test-my-exim.sh", "update-exim4.conf.conf", buildMxlab(t), realpeer.EnvDebDir+"="+realpeer.DebDir())
}

// TestGitHubActionsWorkflow checks that the workflow example is YAML with
// jobs, one of whose steps runs a recipe on the main.cf it names. (The
// workflow was not run on GitHub.)
func TestGitHubActionsWorkflow(t *testing.T) {
	b, err := os.ReadFile("github-actions.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			RunsOn string            `yaml:"runs-on"`
			Env    map[string]string `yaml:"env"`
			Steps  []struct {
				Uses string `yaml:"uses"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("github-actions.yml: %v", err)
	}
	if len(wf.Jobs) == 0 {
		t.Fatal("github-actions.yml: no jobs")
	}
	runs := false
	for name, job := range wf.Jobs {
		if job.RunsOn == "" {
			t.Errorf("job %s: no runs-on", name)
		}
		for _, s := range job.Steps {
			if strings.Contains(s.Run, "examples/test-my-postfix.sh") && strings.Contains(s.Run, "$MAINCF") {
				runs = true
				// MAINCF is a path in the checked-out repository (this one's root).
				if _, err := os.Stat(filepath.Join("..", job.Env["MAINCF"])); job.Env["MAINCF"] == "" || err != nil {
					t.Errorf("job %s: MAINCF %q is not a file of this repository", name, job.Env["MAINCF"])
				}
			}
		}
	}
	if !runs {
		t.Error("github-actions.yml: no step runs examples/test-my-postfix.sh on $MAINCF")
	}
}
