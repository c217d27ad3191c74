package explain

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// kinds are the values Answer.Kind takes.
var kinds = []string{
	KindTLSAlert, KindHandshakeFailure, KindNotTLS, KindStartTLSNotSupported, KindStartTLSRefused,
	KindCertificateHostMismatch, KindCertificateExpired, KindCertificateNotTrusted, KindValidationFailure,
	KindTLSAInvalid, KindDNSSECInvalid, KindSTSPolicyInvalid, KindSTSWebPKIInvalid,
	KindTLSRequired, KindSenderPolicy, KindTLSALookupFailed, KindConnectionLost, KindConnectRefused,
}

// TestCandidatesData checks candidates.yaml: known kinds, scenarios the
// catalogue has, and every candidate saying what tells it apart.
func TestCandidatesData(t *testing.T) {
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for key, list := range kindCandidates() {
		kind, _, _ := strings.Cut(key, "/")
		if !slices.Contains(kinds, kind) {
			t.Errorf("candidates.yaml: unknown kind %q", kind)
		}
		if len(list) == 0 {
			t.Errorf("candidates.yaml: %s: no candidates", kind)
		}
		for i, c := range list {
			if c.Scenario != "" && !slices.Contains(cat.Names(), c.Scenario) {
				t.Errorf("candidates.yaml: %s[%d]: scenario %q is not in the catalogue %v", kind, i, c.Scenario, cat.Names())
			}
			if c.Cause == "" || c.TellApart == "" {
				t.Errorf("candidates.yaml: %s[%d]: cause and tell_apart are required", kind, i)
			}
		}
	}
}

// TestCandidatesOrder checks the candidates of every known corpus answer:
// the decided scenario first, a reproduction for each scenario, and at
// least one candidate "none of the lab's scenarios" where nothing is
// decided.
func TestCandidatesOrder(t *testing.T) {
	for _, e := range loadCorpus(t) {
		a := e.explain(t)
		if !a.Known {
			if len(a.Candidates) > 0 {
				t.Errorf("%s: unknown answer with candidates", e.Name)
			}
			continue
		}
		if len(a.Candidates) == 0 {
			t.Errorf("%s: no candidates", e.Name)
			continue
		}
		if a.Scenario != "" && a.Candidates[0].Scenario != a.Scenario {
			t.Errorf("%s: first candidate %q, want the decided %q", e.Name, a.Candidates[0].Scenario, a.Scenario)
		}
		for _, c := range a.Candidates {
			if (c.Scenario == "") != (c.Reproduce == "") {
				t.Errorf("%s: candidate %q with reproduce %q", e.Name, c.Scenario, c.Reproduce)
			}
		}
	}
}

// TestNoScenarioBranches keeps issue 11's rule: no Go code in this package
// branches on a scenario's name; what a scenario reproduces is read from
// the catalogue (reproduce.go) and the package's data (candidates.yaml).
func TestNoScenarioBranches(t *testing.T) {
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range cat.Names() {
			branch := regexp.MustCompile(`(?:case\s+|[=!]=\s*)"` + regexp.QuoteMeta(name) + `"|"` + regexp.QuoteMeta(name) + `"\s*[=!]=`)
			if loc := branch.FindIndex(data); loc != nil {
				t.Errorf("%s:%d branches on scenario %q", file, 1+strings.Count(string(data[:loc[0]]), "\n"), name)
			}
		}
	}
}

// TestReproducesData checks reproduces.yaml: every scenario is in the
// catalogue, every kind, alert name and rule name exists.
func TestReproducesData(t *testing.T) {
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r := reproducesData()
	check := func(what, scenario string) {
		if !slices.Contains(cat.Names(), scenario) || !isLabScenario(scenario) {
			t.Errorf("reproduces.yaml: %s: scenario %q is not an MX scenario of the catalogue where a sender fails", what, scenario)
		}
	}
	for kind, s := range r.Kinds {
		if !slices.Contains(kinds, kind) {
			t.Errorf("reproduces.yaml: unknown kind %q", kind)
		}
		check("kinds."+kind, s)
	}
	alerts := append(slices.Clone(r.ClientCertificateAlerts.Except), slices.Collect(maps.Keys(r.ServerAlerts))...)
	for _, name := range alerts {
		if _, err := tlsalert.ParseDescription(name); err != nil {
			t.Errorf("reproduces.yaml: alert %q: %v", name, err)
		}
	}
	for name, s := range r.ServerAlerts {
		check("server_alerts."+name, s)
	}
	for name, s := range r.ClientAlerts {
		if _, err := tlsalert.ParseDescription(name); err != nil {
			t.Errorf("reproduces.yaml: client_alerts: alert %q: %v", name, err)
		}
		check("client_alerts."+name, s)
	}
	for ev, s := range r.Certificates {
		if ev != certSelfSigned && ev != certPrivateCA {
			t.Errorf("reproduces.yaml: certificates: %q is no evidence certificateEvidence returns", ev)
		}
		check("certificates."+ev, s)
	}
	for reason, s := range r.Reasons {
		if _, ok := reasonAdvice[reason]; !ok {
			t.Errorf("reproduces.yaml: reasons: %q is no library reason with advice", reason)
		}
		check("reasons."+reason, s)
	}
	for phase, s := range r.Phases {
		if phase != phaseGreeting && phase != phaseEHLO && phase != phaseSTARTTLS {
			t.Errorf("reproduces.yaml: phases: unknown phase %q", phase)
		}
		check("phases."+phase, s)
	}
	check("client_certificate_alerts", r.ClientCertificateAlerts.Scenario)
	for name, s := range r.Rules {
		if !slices.ContainsFunc(rules, func(r rule) bool { return r.name == name }) {
			t.Errorf("reproduces.yaml: no rule named %q in patterns.go", name)
		}
		check("rules."+name, s)
	}
}
