package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
)

func newProfilesCmd(env *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "profiles [NAME]",
		Short: "List the sender profiles, or show one with the evidence for each behaviour",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := format(cmd, "text", "json")
			if err != nil {
				return err
			}
			cat, err := profiles.Builtin()
			if err != nil {
				return err
			}
			if len(a) == 0 {
				if f == "json" {
					return json.NewEncoder(env.stdout).Encode(cat.All())
				}
				tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PROFILE\tSTARTTLS\tSNI\tVERIFY\tSUMMARY")
				for _, p := range cat.All() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.STARTTLS, p.SNI, verifyWords(p.Verify), p.Summary)
				}
				return tw.Flush()
			}
			p, err := cat.Get(a[0])
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if f == "json" {
				return json.NewEncoder(env.stdout).Encode(struct {
					*profiles.Profile
					Unconfirmed []string `json:"unconfirmed"`
				}{p, p.Unconfirmed()})
			}
			wrapped(env.stdout, func(w io.Writer) { showProfile(w, p) })
			return nil
		},
	}
}

func verifyWords(v profiles.Verification) string {
	var w []string
	if v.PKIX {
		w = append(w, "pkix")
	}
	if v.DANE {
		w = append(w, "dane")
	}
	if len(w) == 0 {
		return "none"
	}
	return strings.Join(w, "+")
}

func showProfile(w io.Writer, p *profiles.Profile) {
	fmt.Fprintf(w, "%s: %s\n%s\nsoftware: %s\n\n", p.Name, p.Title, p.Summary, p.Software)
	ev := func(key string) string {
		if e := p.Evidence[key]; e != "" {
			return e
		}
		return "UNCONFIRMED"
	}
	fmt.Fprintf(w, "starttls: %s\n  evidence: %s\n", p.STARTTLS, ev("starttls"))
	fmt.Fprintf(w, "sni: %s\n  evidence: %s\n", p.SNI, ev("sni"))
	refuses := ""
	if p.TLS.RefuseBelow != "" {
		refuses = ", completes only " + p.TLS.RefuseBelow + " and above"
	}
	fmt.Fprintf(w, "tls: offers %s-%s%s, anonymous suites %v\n  evidence: %s\n", p.TLS.MinVersion, p.TLS.MaxVersion, refuses, p.TLS.AnonymousSuites, ev("tls"))
	fmt.Fprintf(w, "verify: %s\n  evidence: %s\n", verifyWords(p.Verify), ev("verify"))
	keys := make([]string, 0, len(p.On))
	for k := range p.On {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "\non failure:")
	for _, k := range keys {
		r := p.On[result.Reason(k)]
		fmt.Fprintf(w, "  %s: %s", k, r.Outcome)
		if r.QuitAfterHandshake {
			fmt.Fprint(w, ", QUIT after the handshake")
		}
		fmt.Fprintln(w)
		showReaction(w, r, p.TextProvenance("on."+k), "    ")
		if r.DANE != nil {
			fmt.Fprintf(w, "    where DANE applies: %s\n", r.DANE.Outcome)
			showReaction(w, *r.DANE, p.TextProvenance("on."+k), "      ")
		}
		if r.STS != nil {
			fmt.Fprintf(w, "    under an enforced MTA-STS policy: %s\n", r.STS.Outcome)
			showReaction(w, *r.STS, p.TextProvenance("on."+k), "      ")
		}
		fmt.Fprintf(w, "    evidence: %s\n", ev("on."+k))
	}
	if u := p.Unconfirmed(); len(u) > 0 {
		fmt.Fprintf(w, "\nunconfirmed: %s\n", strings.Join(u, ", "))
	}
	if p.Notes != "" {
		fmt.Fprintf(w, "\nnotes: %s\n", strings.TrimSpace(p.Notes))
	}
}

// showReaction prints what a reaction says, marked with where the text
// comes from (a reconstructed text is not the sender's quote), its later
// attempts, and what an unevidenced reaction is assumed from.
func showReaction(w io.Writer, r profiles.Reaction, prov profiles.Provenance, indent string) {
	if r.Message != "" {
		fmt.Fprintf(w, "%ssays (%s): %s\n", indent, prov, r.Message)
	}
	for _, l := range r.Later {
		fmt.Fprintf(w, "%safter %s: %s (%s)\n", indent, l.After, l.Outcome, l.Why)
	}
	if r.Assumed != "" {
		fmt.Fprintf(w, "%sassumed: %s\n", indent, r.Assumed)
	}
}
