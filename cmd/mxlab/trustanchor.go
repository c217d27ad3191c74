package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/lab"
)

// anchorCheckTimeout bounds the question trust-anchor asks a running lab.
const anchorCheckTimeout = 5 * time.Second

func newTrustAnchorCmd(env *cliEnv) *cobra.Command {
	var labPath string
	var check bool
	cmd := &cobra.Command{
		Use:   "trust-anchor",
		Short: "Print the lab zone's DNSSEC trust anchor, for unbound, delv or a zone file",
		Long: `Print the trust anchor of the lab's signed zone: its key-signing key, as
a DS and a DNSKEY record. A validating resolver given it validates the
lab's answers itself; run the lab with --dnssec signed behind it.

  --format zone      the DS and DNSKEY in zone-file syntax (the default):
                     unbound's trust-anchor-file or auto-trust-anchor-file
  --format unbound   trust-anchor: lines for unbound.conf's server: clause
  --format delv      a trust-anchors { ... static-key ... }; statement,
                     for delv -a FILE +root=ZONE

With --lab FILE the anchor is the manifest's (trust_anchor), and the lab's
DNS server is asked that it serves that key: a manifest left by a lab that
stopped, or that was written before the lab signed its zone, is an error
(exit 78). Without --lab it is the anchor of the keys in the state
directory, made on first use as serve makes them.

  mxlab trust-anchor --lab lab.json > anchor.zone
  delv @127.0.0.1 -p 10053 -a <(mxlab trust-anchor --format delv) +root=mxlab.test mx baseline.mxlab.test`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := format(cmd, string(dnslab.AnchorZone), string(dnslab.AnchorUnbound), string(dnslab.AnchorDelv))
			if err != nil {
				return err
			}
			var anchor *lab.TrustAnchor
			if labPath != "" {
				layout, err := lab.ReadManifest(labPath)
				if err != nil {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
				if layout.TrustAnchor == nil || check {
					if err := lab.CheckTrustAnchor(layout, anchorCheckTimeout); err != nil {
						return fmt.Errorf("%w: %s: %w", errConfig, labPath, err)
					}
				}
				anchor = layout.TrustAnchor
			} else {
				cfg, err := loadConfig(*env.configPath, cmd.Flags())
				if err != nil {
					return err
				}
				if anchor, err = lab.PlanTrustAnchor(lab.Config{Zone: cfg.Zone, StateDir: cfg.StateDir}); err != nil {
					return err
				}
			}
			text, err := anchor.Format(dnslab.AnchorFormat(f))
			if err != nil {
				if errors.Is(err, dnslab.ErrBadKey) {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
				return err
			}
			fmt.Fprint(env.stdout, text)
			return nil
		},
	}
	// Its own --format, in place of the root's text/json/markdown.
	cmd.Flags().String("format", string(dnslab.AnchorZone), "output format: zone, unbound or delv")
	cmd.Flags().StringVar(&labPath, "lab", "", "a running lab's manifest: print its trust_anchor")
	cmd.Flags().BoolVar(&check, "check", true, "with --lab, ask the lab's DNS server that it serves the manifest's key")
	cmd.Flags().String("zone", lab.DefaultZone, "the lab's DNS zone (without --lab)")
	cmd.Flags().String("state-dir", "", "where the lab keeps its keys (without --lab; default "+lab.DefaultStateDir()+")")
	return cmd
}
