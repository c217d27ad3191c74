package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds a request body: a switchboard selection is a few bytes.
const maxBody = 64 << 10

// switchboardJSON is GET and PUT /api/v1/switchboard's answer.
type switchboardJSON struct {
	Scenario  string   `json:"scenario"`
	Address   string   `json:"address"`
	Scenarios []string `json:"scenarios"`
}

func (a *api) switchboardState() switchboardJSON {
	sb := a.cfg.Lab.Switchboard()
	return switchboardJSON{Scenario: sb.Current(), Address: a.cfg.Lab.Layout().Switchboard, Scenarios: sb.Names()}
}

func (a *api) getSwitchboard(w http.ResponseWriter, _ *http.Request) {
	if a.cfg.Lab.Switchboard() == nil {
		writeError(w, http.StatusNotFound, "this lab runs no switchboard")
		return
	}
	writeJSON(w, http.StatusOK, a.switchboardState())
}

// putSwitchboard selects the switchboard's scenario. Sessions already
// running keep theirs (server.Switchboard).
func (a *api) putSwitchboard(w http.ResponseWriter, r *http.Request) {
	sb := a.cfg.Lab.Switchboard()
	if sb == nil {
		writeError(w, http.StatusNotFound, "this lab runs no switchboard")
		return
	}
	name, err := parseSelection(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body: larger than %d bytes", maxBody)
			return
		}
		writeError(w, http.StatusBadRequest, "%s", err)
		return
	}
	if err := sb.Select(name); err != nil {
		writeError(w, http.StatusBadRequest, "scenario: %s", strings.TrimPrefix(err.Error(), "server: switchboard: "))
		return
	}
	a.log.Info("switchboard: scenario selected", "scenario", name, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, a.switchboardState())
}

// parseSelection reads {"scenario": "NAME"} and says what is wrong with
// anything else.
func parseSelection(body io.Reader) (string, error) {
	var sel struct {
		Scenario *string `json:"scenario"`
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&sel)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "", errors.New(`body: empty; want {"scenario": "NAME"}`)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "", errors.New(`body: not JSON (it ends early); want {"scenario": "NAME"}`)
	case errors.As(err, &syntax):
		return "", fmt.Errorf("body: not JSON (at byte %d: %s)", syntax.Offset, syntax)
	case errors.As(err, &typ) && typ.Field == "":
		return "", fmt.Errorf(`body: want a JSON object {"scenario": "NAME"}, got a %s`, typ.Value)
	case errors.As(err, &typ):
		return "", fmt.Errorf("%s: want a string, got a %s", typ.Field, typ.Value)
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		return "", fmt.Errorf("body: unknown field %s; want only \"scenario\"", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case err != nil:
		return "", fmt.Errorf("body: %w", err)
	case dec.More():
		return "", errors.New("body: trailing data after the JSON object")
	case sel.Scenario == nil:
		return "", errors.New(`scenario: missing; want {"scenario": "NAME"}`)
	case *sel.Scenario == "":
		return "", errors.New("scenario: empty")
	}
	return *sel.Scenario, nil
}
