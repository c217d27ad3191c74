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
do so, and the fix.

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
				return json.NewEncoder(env.stdout).Encode(ans)
			}
			printAnswer(env.stdout, ans)
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
}
