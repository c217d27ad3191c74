package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/lab"
)

func newCertsCmd(env *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Print the lab CA's path and each scenario's certificate and TLSA records",
		Long: `Print the lab CA's path and, for each scenario, its certificate and the
TLSA records the lab publishes, for the layout the same flags would give
'mxlab serve'. Creates the CA and keys on first use, as serve does.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := format(cmd, "text", "json")
			if err != nil {
				return err
			}
			cfg, err := loadConfig(*env.configPath, cmd.Flags())
			if err != nil {
				return err
			}
			lc, err := cfg.labConfig()
			if err != nil {
				return err
			}
			layout, err := lab.Plan(lc)
			if err != nil {
				return err
			}
			if f == "json" {
				return json.NewEncoder(env.stdout).Encode(layout)
			}
			fmt.Fprintf(env.stdout, "CA: %s\n\n", layout.CACert)
			tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCENARIO\tCERTIFICATE\tTLSA")
			for _, s := range layout.Scenarios {
				cert := s.CertPath
				if cert == "" {
					cert = "(none)"
				}
				if len(s.TLSA) == 0 {
					fmt.Fprintf(tw, "%s\t%s\t(none published)\n", s.Name, cert)
				}
				for i, t := range s.TLSA {
					if i > 0 {
						s.Name, cert = "", ""
					}
					fmt.Fprintf(tw, "%s\t%s\t%s. IN TLSA %s\n", s.Name, cert, t.Owner, t.RDATA)
				}
			}
			return tw.Flush()
		},
	}
	addLabFlags(cmd.Flags())
	return cmd
}

func newTLSACmd(env *cliEnv) *cobra.Command {
	var usage, selector, matching int
	var name string
	var port int
	cmd := &cobra.Command{
		Use:   "tlsa CERT.pem",
		Short: "Compute TLSA records for a certificate or chain",
		Long: `Compute TLSA records (RFC 6698) for the certificates in a PEM file: DANE-EE
(usage 3) for the first certificate and DANE-TA (usage 2) for the others,
each with selectors 0 (certificate) and 1 (public key) and matching types
0 (full), 1 (SHA-256) and 2 (SHA-512). --usage, --selector and --matching
pick one combination; --name prints zone-file lines for _PORT._tcp.NAME.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := format(cmd, "text", "json")
			if err != nil {
				return err
			}
			if n := strings.TrimSuffix(name, "."); name != "" {
				if _, ok := dns.IsDomainName(n); !ok || strings.ContainsAny(n, " !\"'*@/\\") || strings.HasPrefix(n, ".") {
					return fmt.Errorf("%w: --name %q is not a host name", errUsage, name)
				}
			}
			if port < 1 || port > 65535 {
				return fmt.Errorf("%w: --port %d is not a port number", errUsage, port)
			}
			chain, err := certs.ReadCerts(args[0])
			if err != nil {
				return err
			}
			recs, err := certs.ChainTLSA(chain)
			if err != nil {
				return err
			}
			for flagName, v := range map[string]int{"usage": usage, "selector": selector, "matching": matching} {
				maxV := map[string]int{"usage": 3, "selector": 1, "matching": 2}[flagName]
				if v < -1 || v > maxV {
					return fmt.Errorf("%w: --%s %d: want 0 to %d", errUsage, flagName, v, maxV)
				}
			}
			var out []certs.TLSA
			for _, r := range recs {
				if (usage < 0 || int(r.Usage) == usage) && (selector < 0 || int(r.Selector) == selector) && (matching < 0 || int(r.Matching) == matching) {
					out = append(out, r)
				}
			}
			if len(out) == 0 && usage >= 0 {
				// An explicit usage applies to the leaf whatever its place.
				t, err := certs.NewTLSA(chain[0], uint8(usage), uint8(max(selector, 1)), uint8(max(matching, 1)))
				if err != nil {
					return err
				}
				out = append(out, t)
			}
			if f == "json" {
				return json.NewEncoder(env.stdout).Encode(out)
			}
			owner := ""
			if name != "" {
				owner = fmt.Sprintf("_%d._tcp.%s.", port, strings.TrimSuffix(name, "."))
			}
			tw := tabwriter.NewWriter(env.stdout, 2, 4, 1, ' ', 0)
			for _, r := range out {
				if owner != "" {
					fmt.Fprintf(tw, "%s IN TLSA %s\n", owner, r)
				} else {
					fmt.Fprintln(tw, r.String())
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&usage, "usage", -1, "only this certificate usage (2 DANE-TA, 3 DANE-EE)")
	cmd.Flags().IntVar(&selector, "selector", -1, "only this selector (0 certificate, 1 public key)")
	cmd.Flags().IntVar(&matching, "matching", -1, "only this matching type (0 full, 1 SHA-256, 2 SHA-512)")
	cmd.Flags().StringVar(&name, "name", "", "print zone-file lines for this host name")
	cmd.Flags().IntVar(&port, "port", 25, "port for the owner name with --name")
	return cmd
}
