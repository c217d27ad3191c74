package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/explain"
)

func newExplainCmd(env *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "explain ['TEXT' | -]",
		Short: "Explain a bounce or log line: the alert, the causes, the scenario that reproduces it, the fix",
		Long: `Explain a bounce or log line as pasted (Gmail's, Outlook's, Postfix's, Exim's,
sendmail's; OpenSSL, BoringSSL or GnuTLS wordings; wrapped or quoted), or,
with '-' or no argument, a whole bounce message (a DSN .eml) on standard
input. Says which TLS alert or error it encodes, what the receiving side
did, the usual causes, the scenario that reproduces it and the command to
do so, and the fix. Where the text does not decide one cause, it lists the
candidates, most likely first, each with the scenario that reproduces it
(or none of the lab's) and what tells it apart.

Exit status: 0 when the text is a TLS delivery failure explain knows, 1
when it is not, 64 on bad usage.

  mxlab explain 'TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71): ... SSL alert number 47'
  mxlab explain < bounce.eml`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := format(cmd, "text", "json")
			if err != nil {
				return err
			}
			var ans explain.Answer
			if len(a) == 0 || a[0] == "-" {
				if ans, err = explain.ExplainMessage(env.stdin); err != nil {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
			} else {
				if strings.TrimSpace(a[0]) == "" {
					return fmt.Errorf("%w: nothing to explain", errUsage)
				}
				ans = explain.Explain(a[0])
			}
			if f == "json" {
				if err := json.NewEncoder(env.stdout).Encode(ans); err != nil {
					return err
				}
			} else {
				wrapped(env.stdout, func(w io.Writer) { printAnswer(w, ans) })
			}
			if !ans.Known {
				// A CI script can tell "not a TLS failure explain knows"
				// from an explained one (issue 15): exit 1, nothing on
				// standard error.
				return exitError{code: exitFailure}
			}
			return nil
		},
	}
}

func printAnswer(w io.Writer, a explain.Answer) {
	if !a.Known {
		fmt.Fprintln(w, explain.Unknown+".")
		return
	}
	what := a.Kind
	if a.Alert != nil {
		what = fmt.Sprintf("%s: %s alert %d (%s)", a.Kind, a.Alert.Level, a.Alert.Code, a.Alert.Name)
	}
	fmt.Fprintf(w, "%s\n", what)
	fmt.Fprintf(w, "  written by: %s (%s side)\n", a.Source, a.Side)
	if a.ReceiverDid != "" {
		fmt.Fprintf(w, "  the receiving side: %s\n", a.ReceiverDid)
	}
	if len(a.Causes) > 0 {
		fmt.Fprintln(w, "  usual causes:")
		for i, c := range a.Causes {
			fmt.Fprintf(w, "    %d. %s\n", i+1, c)
		}
	}
	if a.Scenario != "" {
		fmt.Fprintf(w, "  reproduce: scenario %s, with a lab running (mxlab serve --manifest lab.json):\n    %s\n", a.Scenario, a.Reproduce)
	}
	if a.Fix != "" {
		fmt.Fprintf(w, "  fix: %s\n", a.Fix)
	}
	if len(a.Candidates) > 1 || (len(a.Candidates) == 1 && a.Scenario == "") {
		fmt.Fprintln(w, "  candidates, most likely first:")
		for i, c := range a.Candidates {
			name := "none of the lab's scenarios"
			if c.Scenario != "" {
				name = "scenario " + c.Scenario
			}
			fmt.Fprintf(w, "    %d. %s: %s\n", i+1, name, c.Cause)
			fmt.Fprintf(w, "       tells it apart: %s\n", c.TellApart)
			if c.Reproduce != "" {
				fmt.Fprintf(w, "       reproduce: %s\n", c.Reproduce)
			}
		}
	}
}
