package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
)

func newServeCmd(env *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the lab: every scenario's SMTP server, the lab DNS and CA",
		Long: `Run the lab until interrupted (Ctrl-C or SIGTERM).

With no flags every built-in scenario listens on 127.0.0.1, one port each
(baseline 10025, no-starttls 10026, sni-reject 10027, no-shared-cipher
10028, self-signed 10029, tlsa-mismatch 10030, submission 10587), and the
lab's DNS answers for mxlab.test on 127.0.0.1:10053. No root is needed.

For real MTAs, which deliver to port 25 and resolve through the system
resolver, use the shared-port layout in a network namespace:

  mxlab serve --smtp-port 25 --smtp-net 127.0.1.0/24 --dns 127.0.0.1:53

--manifest FILE writes the layout as JSON once every listener answers;
each finished session is appended to the sessions file as one JSON line.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, env)
		},
	}
	addLabFlags(cmd.Flags())
	cmd.Flags().String("manifest", "", "write the lab manifest (JSON) here once ready")
	cmd.Flags().String("sessions-file", "", `session records file (default <state-dir>/sessions.jsonl; "-" for none)`)
	cmd.Flags().String("log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

func runServe(cmd *cobra.Command, env *cliEnv) error {
	f, err := format(cmd, "text", "json")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*env.configPath, cmd.Flags())
	if err != nil {
		return err
	}
	logger, err := newLogger(env.stderr, cfg.Log.Level)
	if err != nil {
		return err
	}
	lc, err := cfg.labConfig()
	if err != nil {
		return err
	}
	lc.Logger = logger
	l, err := lab.Start(lc)
	if err != nil {
		return err
	}
	defer l.Close()

	switch {
	case f == "json":
		enc := json.NewEncoder(env.stdout)
		if err := enc.Encode(l.Layout()); err != nil {
			return err
		}
	case isTerminal(env.stdout):
		printReady(env.stdout, l.Layout())
	default:
		fmt.Fprintf(env.stderr, "mxlab: lab ready: %d scenarios, DNS %s, CA %s\n", len(l.Layout().Scenarios), l.Layout().DNS, l.Layout().CACert)
	}
	logger.Info("lab ready", "scenarios", len(l.Layout().Scenarios), "dns", l.Layout().DNS, "manifest", cfg.Manifest, "sessions", l.Layout().Sessions)

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		logger.Info("stopping")
		return nil
	case err := <-l.Err():
		return err
	}
}

// printReady shows, on a terminal, where each scenario is and a command
// to try it with a common client.
func printReady(w io.Writer, layout *lab.Layout) {
	fmt.Fprintf(w, "mxlab is ready. DNS %s (zone %s), CA %s\n\n", layout.DNS, layout.Zone, layout.CACert)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tDOMAIN\tMX\tADDRESS")
	for _, s := range layout.Scenarios {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Domain, s.MX, s.SMTP)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nTry:")
	for _, s := range layout.Scenarios {
		fmt.Fprintf(w, "  %-17s %s\n", s.Name, TryCommand(s))
	}
	dnsHost, dnsPort, _ := net.SplitHostPort(layout.DNS)
	fmt.Fprintf(w, "\n  dig @%s -p %s +dnssec MX %s\n", dnsHost, dnsPort, layout.Scenarios[0].Domain)
	fmt.Fprintln(w, "\nStop with Ctrl-C.")
}

// TryCommand is a command line that shows a site's behaviour with a
// common client.
func TryCommand(s *lab.Site) string {
	host, port, _ := net.SplitHostPort(s.SMTP)
	sc := s.Scenario()
	switch {
	case sc != nil && sc.Kind == scenarios.KindSubmission:
		return fmt.Sprintf("swaks --server %s --port %s --tls --auth PLAIN --auth-user me --auth-password secret --to you@example.test", host, port)
	case sc != nil && !sc.SMTP.OffersSTARTTLS():
		return fmt.Sprintf("swaks --server %s --port %s --to postmaster@%s --tls-optional", host, port, s.Domain)
	}
	return fmt.Sprintf("openssl s_client -starttls smtp -connect %s:%s -servername %s -brief", host, port, s.MX)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log level %q: want debug, info, warn or error", errConfig, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
