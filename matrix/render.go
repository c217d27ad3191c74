package matrix

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mxlab/mxlab/result"
)

// Short renders a cell in a few characters: the outcome, and the alert or
// reason that explains it.
func (c *Cell) Short() string {
	out := map[result.Outcome]string{
		result.Delivered: "ok", result.DeliveredPlaintext: "plain", result.Deferred: "DEFER", result.Bounced: "BOUNCE",
	}[c.Outcome]
	if out == "" {
		out = string(c.Outcome)
	}
	detail := ""
	switch {
	case c.Report != nil && c.Report.TLS != nil && c.Report.TLS.AlertReceived != nil:
		detail = fmt.Sprintf("a%d", c.Report.TLS.AlertReceived.Code)
	case shortReasons[result.Reason(c.Reason)] != "":
		detail = shortReasons[result.Reason(c.Reason)]
	case c.Reason != "" && c.Outcome != result.Delivered:
		detail = c.Reason
	}
	if detail != "" {
		out += " " + detail
	}
	switch {
	case c.Match == nil:
		out += " ?"
	case !*c.Match:
		out += " !"
	}
	return out
}

// WriteText prints the grid, one line per scenario on why, and the
// divergent and unverified cells.
func (r *Result) WriteText(w io.Writer, markdown bool) {
	header := []string{"scenario"}
	for _, p := range r.Profiles {
		header = append(header, p.Name)
	}
	if markdown {
		fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
		fmt.Fprintln(w, "|"+strings.Repeat("---|", len(header)))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if !markdown {
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(header, "\t")))
	}
	for _, sc := range r.Scenarios {
		row := []string{sc.Name}
		for _, p := range r.Profiles {
			row = append(row, r.Cell(sc.Name, p.Name).Short())
		}
		if markdown {
			fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
		} else {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nok: delivered over TLS; plain: delivered in plaintext; aN: TLS alert N received; anon*: inferred anonymous TLS;")
	fmt.Fprintln(w, "dane: DANE-verified; tlsa: TLSA mismatch; no-tls: STARTTLS not offered; refused: STARTTLS refused (454);")
	fmt.Fprintln(w, "untrusted, name, expired: certificate not trusted, for another name, expired; handshake: handshake failed without an alert;")
	fmt.Fprintln(w, "lost: connection lost; dnssec: TLSA lookup failed below a secure MX; sts-mx, sts-policy, sts-fetch, sts-webpki: MTA-STS")
	fmt.Fprintln(w, "(the MX not in the policy, a bad policy, a failed policy fetch, the policy host's certificate); reasons: result/result.go")
	fmt.Fprintln(w, "?: no evidenced expectation (unverified); !: differs from the evidenced expectation")
	fmt.Fprintln(w)
	for _, sc := range r.Scenarios {
		if sc.Why != "" {
			fmt.Fprintf(w, "%s: %s\n", sc.Name, strings.TrimSpace(sc.Why))
		}
	}
	c := r.Counts()
	fmt.Fprintf(w, "\n%d cells: %d match, %d diverge, %d unverified\n", len(r.Cells), c.Match, c.Diverge, c.Unverified)
	for _, cell := range r.Cells {
		if cell.Match != nil && !*cell.Match {
			exp := *cell.Expected
			fmt.Fprintf(w, "DIVERGES %s × %s: got %s (%s), expected %s — %s\n", cell.Scenario, cell.Profile, cell.Outcome, cell.Reason, exp, *cell.Evidence)
		}
	}
}

// shortReasons are the matrix's cell words for reasons (the legend
// explains them).
var shortReasons = map[result.Reason]string{
	result.AnonymousTLS:            "anon*",
	result.DANEVerified:            "dane",
	result.TLSAInvalid:             "tlsa",
	result.STARTTLSNotSupported:    "no-tls",
	result.STARTTLSRefused:         "refused",
	result.CertificateNotTrusted:   "untrusted",
	result.CertificateHostMismatch: "name",
	result.CertificateExpired:      "expired",
	result.HandshakeFailed:         "handshake",
	result.ConnectionLost:          "lost",
	result.DNSSECInvalid:           "dnssec",
	result.STSMXMismatch:           "sts-mx",
	result.STSPolicyInvalid:        "sts-policy",
	result.STSPolicyFetchError:     "sts-fetch",
	result.STSWebPKIInvalid:        "sts-webpki",
}
