package tlsrpt

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	example, err := os.ReadFile("testdata/rfc8460-appendix-b.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, contentType string
		body                      []byte
		status                    int
		text                      string // in the answer
	}{
		{"gzip", http.MethodPost, MediaGzip, gzipped(t, example), http.StatusCreated, `report "5065427c-23d3-47ca-b6e0-946ea0e8c4be" from "Company-X" stored`},
		{"json", http.MethodPost, MediaJSON, example, http.StatusCreated, "stored"},
		{"GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed, "GET is not allowed"},
		{"PUT", http.MethodPut, MediaJSON, example, http.StatusMethodNotAllowed, "POST a report"},
		{"another media type", http.MethodPost, "application/json", example, http.StatusUnsupportedMediaType, "not a report media type"},
		{"invalid", http.MethodPost, MediaJSON, []byte(`{"organization-name":1}`), http.StatusBadRequest, "organization-name: want a string"},
		{"too large", http.MethodPost, MediaJSON, make([]byte, MaxReport+10), http.StatusRequestEntityTooLarge, "too large"},
		{"bad gzip", http.MethodPost, MediaGzip, []byte("not gzip"), http.StatusBadRequest, "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &Store{Now: func() time.Time { return dayStart }}
			req := httptest.NewRequest(tt.method, "/v1/tlsrpt", bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			Handler(store).ServeHTTP(w, req)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.text) {
				t.Errorf("%d %q, want %d with %q", w.Code, w.Body.String(), tt.status, tt.text)
			}
			if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow: %q", w.Header().Get("Allow"))
			}
			stored := store.List()
			if ok := tt.status == http.StatusCreated; ok != (len(stored) == 1) {
				t.Fatalf("stored %d reports", len(stored))
			} else if ok && (stored[0].Via != ViaHTTPS || !stored[0].At.Equal(dayStart) || stored[0].Report.OrganizationName != "Company-X") {
				t.Errorf("stored %+v", stored[0])
			}
		})
	}
}
