package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/matrix"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/scenarios"
)

func newMatrixCmd(env *cliEnv) *cobra.Command {
	var profileNames []string
	var labPath, tlsrptPath string
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Run every sender profile against every MX scenario and print the grid",
		Long: `Run every sender profile against every MX scenario (all but submission),
concurrently, and print the grid, one line per scenario on why the senders
that fail fail, and every cell that differs from the scenario's evidenced
expectation. Without --lab it starts its own lab in-process on ephemeral
ports. Exits 1 when a cell diverges.

--tlsrpt FILE also writes the TLS-RPT reports (RFC 8460) the senders would
send about their attempts: a JSON array, one report per profile in column
order, each covering every scenario's domain (docs/tlsrpt.md).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := format(cmd, "text", "json", "markdown")
			if err != nil {
				return err
			}
			cfg, err := loadConfig(*env.configPath, cmd.Flags())
			if err != nil {
				return err
			}
			pcat, err := profiles.Builtin()
			if err != nil {
				return err
			}
			ps, err := pcat.Select(profileNames)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			lc, err := cfg.labConfig()
			if err != nil {
				return err
			}
			scs, err := lc.Catalogue.Select(cfg.Only)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if err := someMX(scs, cfg.Only); err != nil {
				return err
			}
			out, err := openTLSRPT(tlsrptPath)
			if err != nil {
				return err
			}
			defer out.close()
			opts := matrix.Options{Profiles: ps, Scenarios: scs}
			if labPath != "" {
				layout, err := lab.ReadManifest(labPath)
				if err != nil {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
				opts.Layout = layout
				if opts.Roots, err = labRoots(layout); err != nil {
					return err
				}
			} else {
				lc.DNS = "127.0.0.1:0"
				lc.Addressing = lab.Addressing{Ephemeral: true}
				lc.SessionsFile = "-"
				lc.Manifest = ""
				l, err := lab.Start(lc)
				if err != nil {
					return err
				}
				defer l.Close()
				opts.Layout = l.Layout()
				opts.Roots = l.CA().CAPool()
			}
			res, err := matrix.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if f == "json" {
				if err := json.NewEncoder(env.stdout).Encode(res); err != nil {
					return err
				}
			} else {
				res.WriteText(env.stdout, f == "markdown")
			}
			if out != nil {
				if err := writeMatrixTLSRPT(out, res); err != nil {
					return err
				}
			}
			if c := res.Counts(); c.Diverge > 0 {
				return exitError{code: exitFailure, msg: fmt.Sprintf("%d cells differ from their evidenced expectation", c.Diverge)}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&profileNames, "profiles", nil, "only these profiles (comma-separated)")
	cmd.Flags().StringSlice("scenarios", nil, "only these scenarios (comma-separated)")
	cmd.Flags().StringVar(&tlsrptPath, "tlsrpt", "", "also write each profile's TLS-RPT report (RFC 8460 JSON) about its attempts to FILE, as a JSON array")
	cmd.Flags().StringVar(&labPath, "lab", "", "use a running lab (its manifest) instead of starting one")
	cmd.Flags().String("state-dir", "", "state directory of the in-process lab")
	cmd.Flags().StringSlice("scenario-dir", nil, "directory of extra scenario YAML files (repeatable)")
	return cmd
}

// someMX refuses a selection with no MX scenario: the matrix would be
// empty (a submission scenario takes no deliveries).
func someMX(scs []*scenarios.Scenario, asked []string) error {
	for _, s := range scs {
		if s.Kind == scenarios.KindMX {
			return nil
		}
	}
	return fmt.Errorf("%w: --scenarios %s: none of them is an MX scenario (submission scenarios take no deliveries; see mxlab scenarios)", errUsage, strings.Join(asked, ","))
}
