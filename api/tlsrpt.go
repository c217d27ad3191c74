package api

import (
	"net/http"

	"github.com/mxlab/mxlab/tlsrpt"
)

// listTLSRPT lists the TLS-RPT reports (RFC 8460) the lab received,
// newest first (docs/api.md, TLSRPTReport).
func (a *api) listTLSRPT(w http.ResponseWriter, _ *http.Request) {
	if a.cfg.TLSRPT == nil {
		writeError(w, http.StatusNotFound, "this lab keeps no TLS-RPT reports")
		return
	}
	reports := a.cfg.TLSRPT.List()
	if reports == nil {
		reports = []tlsrpt.Received{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": reports})
}
