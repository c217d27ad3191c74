package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/probe"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/sender"
)

func newProbeCmd(env *cliEnv) *cobra.Command {
	var profileNames []string
	var resolverAddr, labPath string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "probe DOMAIN",
		Short: "Predict which senders would fail to deliver to a domain, and why (no mail is sent)",
		Long: `Run every sender profile against the domain's MX hosts, stopping each
attempt before MAIL FROM with QUIT, and predict which senders would fail
and why. When the resolver does not authenticate its answers (no AD), the
DANE profiles' predictions are 'unknown': point --resolver at a validating
resolver (e.g. a local unbound) to judge them.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := format(cmd, "text", "json")
			if err != nil {
				return err
			}
			pc, err := profiles.Builtin()
			if err != nil {
				return err
			}
			ps, err := pc.Select(profileNames)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			base := sender.Options{Timeout: timeout}
			switch {
			case labPath != "":
				layout, err := lab.ReadManifest(labPath)
				if err != nil {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
				if err := useLab(&base, layout); err != nil {
					return err
				}
			case resolverAddr != "":
				base.Resolver = &sender.Resolver{Addr: resolverAddr}
			default:
				if base.Resolver, err = sender.SystemResolver(); err != nil {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
			}
			domain := strings.TrimSuffix(strings.ToLower(a[0]), ".")
			if strings.ContainsAny(domain, "@ /") || !strings.Contains(domain, ".") {
				return fmt.Errorf("%w: %q is not a domain name", errUsage, a[0])
			}
			res := probe.Run(cmd.Context(), probe.Options{Domain: domain, Profiles: ps, Base: base})
			if f == "json" {
				return json.NewEncoder(env.stdout).Encode(res)
			}
			fmt.Fprintf(env.stdout, "%s (resolver %s authenticated answers: %v)\n\n", domain, base.Resolver, res.ResolverValidates)
			tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tPREDICTION\tREASON\tWHY")
			for _, p := range res.Predictions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Profile, p.Outcome, p.Reason, p.Why)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringSliceVar(&profileNames, "profiles", nil, "only these profiles (comma-separated)")
	cmd.Flags().StringVar(&resolverAddr, "resolver", "", "DNS resolver host:port (default: /etc/resolv.conf's first)")
	cmd.Flags().StringVar(&labPath, "lab", "", "probe inside a running lab (its manifest)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "timeout of each network step")
	return cmd
}
