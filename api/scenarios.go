package api

import (
	"net/http"

	"github.com/mxlab/mxlab/lab"
)

// scenarioJSON is a running scenario: its place in the lab and its lesson
// (docs/api.md, Scenario). The list keeps the lesson and leaves the other
// long texts (incident, fix, sources) to the scenario's own route.
type scenarioJSON struct {
	*lab.Site
	Title    string   `json:"title"`
	Summary  string   `json:"summary"`
	Imitates string   `json:"imitates"`
	Why      string   `json:"why,omitempty"`
	Incident string   `json:"incident,omitempty"`
	Lesson   string   `json:"lesson,omitempty"`
	Fix      string   `json:"fix,omitempty"`
	Sources  []string `json:"sources,omitempty"`
}

func describe(site *lab.Site, full bool) scenarioJSON {
	sc := site.Scenario()
	j := scenarioJSON{Site: site, Title: sc.Title, Summary: sc.Summary, Imitates: sc.Imitates, Why: sc.Why, Lesson: sc.Lesson}
	if full {
		j.Incident, j.Fix, j.Sources = sc.Incident, sc.Fix, sc.Sources
	}
	return j
}

func (a *api) listScenarios(w http.ResponseWriter, _ *http.Request) {
	out := []scenarioJSON{}
	for _, site := range a.cfg.Lab.Layout().Scenarios {
		out = append(out, describe(site, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"scenarios": out})
}

func (a *api) getScenario(w http.ResponseWriter, r *http.Request) {
	site, err := a.cfg.Lab.Layout().Site(r.PathValue("name"))
	if err != nil {
		writeError(w, http.StatusNotFound, "%s", err)
		return
	}
	writeJSON(w, http.StatusOK, describe(site, true))
}
