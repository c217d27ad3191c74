package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/scenarios"
)

func newScenariosCmd(env *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenarios [NAME]",
		Short: "List the scenarios, or show one scenario's whole lesson",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := format(cmd, "text", "json", "markdown")
			if err != nil {
				return err
			}
			cfg, err := loadConfig(*env.configPath, cmd.Flags())
			if err != nil {
				return err
			}
			cat, err := cfg.catalogue()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return listScenarios(env.stdout, cat, f)
			}
			sc, err := cat.Get(args[0])
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			d, err := cat.Dialect(sc.Imitates)
			if err != nil {
				return err
			}
			if f != "text" {
				return showScenario(env.stdout, sc, d, f)
			}
			var err2 error
			wrapped(env.stdout, func(w io.Writer) { err2 = showScenario(w, sc, d, f) })
			return err2
		},
	}
	cmd.Flags().StringSlice("scenario-dir", nil, "directory of extra scenario YAML files (repeatable)")
	return cmd
}

func listScenarios(w io.Writer, cat *scenarios.Catalogue, f string) error {
	all := cat.All()
	switch f {
	case "json":
		return json.NewEncoder(w).Encode(all)
	case "markdown":
		fmt.Fprintln(w, "| scenario | imitates | port | summary |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, s := range all {
			fmt.Fprintf(w, "| `%s` | %s | %d | %s |\n", s.Name, s.Imitates, s.Port, s.Summary)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tIMITATES\tPORT\tSUMMARY")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Name, s.Imitates, s.Port, s.Summary)
	}
	return tw.Flush()
}

func showScenario(w io.Writer, s *scenarios.Scenario, d *scenarios.Dialect, f string) error {
	if f == "json" {
		return json.NewEncoder(w).Encode(struct {
			*scenarios.Scenario
			Dialect *scenarios.Dialect `json:"dialect"`
		}{s, d})
	}
	h := func(title string) {
		if f == "markdown" {
			fmt.Fprintf(w, "\n## %s\n\n", title)
		} else {
			fmt.Fprintf(w, "\n%s\n%s\n", strings.ToUpper(title), strings.Repeat("-", len(title)))
		}
	}
	if f == "markdown" {
		fmt.Fprintf(w, "# %s: %s\n\n%s\n", s.Name, s.Title, s.Summary)
	} else {
		fmt.Fprintf(w, "%s: %s\n%s\n", s.Name, s.Title, s.Summary)
	}
	h("Incident")
	fmt.Fprintln(w, strings.TrimSpace(s.Incident))
	h("What the lab does")
	for _, line := range behaviour(s, d) {
		fmt.Fprintln(w, "- "+line)
	}
	h("Lesson")
	fmt.Fprintln(w, strings.TrimSpace(s.Lesson))
	h("Fix")
	fmt.Fprintln(w, strings.TrimSpace(s.Fix))
	if len(s.Expectations) > 0 {
		h("Expected sender behaviour")
		// In the profiles' display order (map order would change the
		// text from run to run).
		var order []string
		if pc, err := profiles.Builtin(); err == nil {
			order = pc.Names()
		}
		var names []string
		for p := range s.Expectations {
			names = append(names, p)
		}
		sort.SliceStable(names, func(i, j int) bool {
			ri, rj := slices.Index(order, names[i]), slices.Index(order, names[j])
			if ri < 0 {
				ri = len(order)
			}
			if rj < 0 {
				rj = len(order)
			}
			return ri < rj || ri == rj && names[i] < names[j]
		})
		for _, p := range names {
			e := s.Expectations[p]
			ev := e.Evidence
			if ev == "" {
				ev = "unconfirmed"
			}
			fmt.Fprintf(w, "- %s: %s %s (%s)\n", p, e.Outcome, e.Reason, ev)
		}
	}
	h("Sources")
	for _, src := range append(s.Sources, d.Sources...) {
		fmt.Fprintln(w, "- "+src)
	}
	return nil
}

// behaviour describes the knobs in words.
func behaviour(s *scenarios.Scenario, d *scenarios.Dialect) []string {
	out := []string{fmt.Sprintf("imitates %s (dialect %q): banner %q", d.Software, d.Name, "220 "+firstNonEmpty(s.SMTP.Banner, d.Banner))}
	if s.SMTP.OffersSTARTTLS() {
		out = append(out, "EHLO lists STARTTLS; STARTTLS is answered "+quote(d.Replies[scenarios.ReplyStartTLS]))
	} else {
		out = append(out, "EHLO does not list STARTTLS; a STARTTLS sent anyway gets "+quote(d.Replies[scenarios.ReplyStartTLSNotOffered]))
	}
	for _, r := range s.TLS.Reject {
		out = append(out, fmt.Sprintf("ClientHello rule %s: fatal alert %s, logged %q", r.When, r.Alert, r.Log))
	}
	switch s.TLS.Certificate {
	case scenarios.CertNone:
		out = append(out, "no certificate")
	default:
		out = append(out, fmt.Sprintf("certificate: %s for %s (%s)", s.TLS.Certificate, strings.Join(s.TLS.Names, ", "), s.TLS.Key))
	}
	switch s.DNS.TLSA {
	case scenarios.TLSANone:
		out = append(out, "no TLSA record")
	case scenarios.TLSACurrent:
		out = append(out, "TLSA 3 1 1 for the served key")
	case scenarios.TLSAPrevious:
		out = append(out, "TLSA 3 1 1 for a previous key (not the served one)")
	}
	if !s.DNS.IsAuthenticated() {
		out = append(out, "DNS answers without the AD bit (an unsigned zone)")
	}
	if s.SMTP.RequireTLS {
		out = append(out, "MAIL before STARTTLS is refused: "+quote(d.Replies[scenarios.ReplyTLSRequired]))
	}
	if a := s.SMTP.Auth; a != nil {
		out = append(out, fmt.Sprintf("AUTH %s offered%s; required: %v", strings.Join(a.Mechanisms, " "), map[bool]string{true: " after TLS only"}[a.AfterTLSOnly], a.Required))
	}
	return out
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
