package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/tlsrpt"
)

// GET /api/v1/tlsrpt lists what the store kept, newest first; a lab with
// no store answers 404. No lab is needed: the route reads the store.
func TestTLSRPTRoute(t *testing.T) {
	at := time.Date(2025, 5, 2, 6, 0, 0, 0, time.UTC)
	store := &tlsrpt.Store{Now: func() time.Time { return at }}
	store.Add(&tlsrpt.Report{OrganizationName: "Google Inc.", ReportID: "older", Policies: []tlsrpt.PolicyResult{}}, tlsrpt.ViaMailto)
	store.Add(&tlsrpt.Report{OrganizationName: "Company-X", ReportID: "newer", Policies: []tlsrpt.PolicyResult{{
		Policy:         tlsrpt.Policy{Type: tlsrpt.PolicyNone, Domain: "sni-reject.mxlab.test"},
		Summary:        tlsrpt.Summary{TotalFailure: 1},
		FailureDetails: []tlsrpt.FailureDetails{{ResultType: tlsrpt.ValidationFailure, FailedSessionCount: 1, FailureReasonCode: "alert 47 (illegal_parameter)"}},
	}}}, tlsrpt.ViaHTTPS)

	tests := []struct {
		name   string
		store  *tlsrpt.Store
		method string
		status int
		body   string
	}{
		{"list", store, http.MethodGet, 200, `{"reports":[{"received":"2025-05-02T06:00:00Z","via":"https","report":{"organization-name":"Company-X"`},
		{"head", store, http.MethodHead, 200, ""},
		{"no store", nil, http.MethodGet, 404, `"message":"this lab keeps no TLS-RPT reports"`},
		{"post", store, http.MethodPost, 405, `"code":"method-not-allowed"`},
		{"empty", &tlsrpt.Store{}, http.MethodGet, 200, `{"reports":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{TLSRPT: tt.store})
			req := httptest.NewRequest(tt.method, "http://127.0.0.1/api/v1/tlsrpt", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("%d %s, want %d with %s", w.Code, w.Body.String(), tt.status, tt.body)
			}
		})
	}

	w := httptest.NewRecorder()
	New(Config{TLSRPT: store}).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/v1/tlsrpt", nil))
	var got struct {
		Reports []tlsrpt.Received `json:"reports"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Reports) != 2 || got.Reports[0].Report.ReportID != "newer" || got.Reports[1].Via != tlsrpt.ViaMailto ||
		got.Reports[0].Report.Policies[0].FailureDetails[0].FailureReasonCode != "alert 47 (illegal_parameter)" {
		t.Errorf("reports %+v", got.Reports)
	}
}
