package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mxlab/mxlab/api"
	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/metrics"
	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsrpt"
	"github.com/mxlab/mxlab/web"
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

The zone is signed (keys in <state-dir>/dnssec). --dnssec ad (the
default) has the lab set AD itself, as a validating resolver would;
--dnssec signed leaves that to a real validator given the trust anchor
('mxlab trust-anchor', or the manifest's trust_anchor).

--manifest FILE writes the layout as JSON once every listener answers;
each finished session is appended to the sessions file as one JSON line.

The HTTP API (docs/api.md) and the web UI listen on 127.0.0.1:10080
(--api), and the switchboard, an SMTP listener whose scenario
PUT /api/v1/switchboard selects, on 127.0.0.1:10024 (--switchboard). --ephemeral puts every
listener on a free port (the manifest says where), so two labs can run
side by side. Accepted messages are kept in memory, or with --spool DIR
in a Maildir, fsynced before the 250.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, env)
		},
	}
	addLabFlags(cmd.Flags())
	cmd.Flags().String("manifest", "", "write the lab manifest (JSON) here once ready")
	cmd.Flags().String("sessions-file", "", `session records file (default <state-dir>/sessions.jsonl; "-" for none)`)
	cmd.Flags().String("accepted-file", "", `a line per acknowledged message, written before its 250 (default accepted.jsonl beside the sessions file; "-" for none)`)
	cmd.Flags().String("log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().String("api", DefaultAPI, `HTTP API address ("-" for none)`)
	cmd.Flags().String("api-token", "", "token every API call must send (Authorization: Bearer TOKEN); or MXLAB_API_TOKEN")
	cmd.Flags().Bool("api-public", false, "allow the API on an address beyond loopback (needs --api-token)")
	cmd.Flags().Bool("api-token-generate", false, "when no token is set, generate one and print it (the image does this)")
	cmd.Flags().String("switchboard", DefaultSwitchboard, `switchboard SMTP address ("-" for none)`)
	cmd.Flags().String("switchboard-scenario", "", "the switchboard's first scenario (default: the first running)")
	cmd.Flags().String("spool", "", "keep accepted messages in this Maildir, fsynced before the 250 (default: in memory)")
	cmd.Flags().Int("store-max-messages", 0, fmt.Sprintf("keep at most this many messages, dropping the oldest (default %d in memory, no bound with --spool)", msgstore.DefaultMaxMessages))
	cmd.Flags().Int64("store-max-bytes", 0, fmt.Sprintf("keep at most this many bytes of messages (default %d in memory, no bound with --spool)", msgstore.DefaultMaxBytes))
	cmd.Flags().Int("limit-recipients", 0, "recipients per message (default: the imitated server's, e.g. Postfix 1000; -1 for none)")
	cmd.Flags().Int("limit-errors", 0, "errors before a session is closed (default: the imitated server's, e.g. Postfix 20; -1 for none)")
	cmd.Flags().Int64("limit-message-size", 0, "largest message in bytes (default: the imitated server's, e.g. Postfix 10240000; -1 for none)")
	cmd.Flags().Int("limit-connections", 0, "sessions open at once per scenario, refused beyond with the imitated server's 421 (default: no limit)")
	cmd.Flags().Int("limit-connections-per-client", 0, "sessions open at once per scenario and client address (default: no limit)")
	cmd.Flags().Bool("ephemeral", false, "bind every listener (SMTP, DNS, API, switchboard) on a free port; the manifest says where")
	cmd.Flags().String("dnssec", string(dnslab.ModeAD), `DNS mode: "ad" sets AD itself and answers SERVFAIL for a bogus RRset (no validator needed); "signed" never sets AD, for a validating resolver with 'mxlab trust-anchor'`)
	return cmd
}

// Default addresses of the API and the switchboard.
const (
	DefaultAPI         = "127.0.0.1:10080"
	DefaultSwitchboard = "127.0.0.1:10024"
)

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
	// Only serve takes the mode: matrix starts its in-process lab in
	// ad mode, its sender having no validator.
	lc.DNSSEC = dnslab.Mode(cfg.DNSSEC)
	lc.Logger = logger
	if err := cfg.placeListeners(&lc); err != nil {
		return err
	}
	apiLn, err := cfg.listenAPI(env.stderr)
	if err != nil {
		return err
	}
	if apiLn != nil {
		defer apiLn.Close()
		lc.API = apiLn.Addr().String()
	}
	selected, err := lc.Catalogue.Select(lc.Scenarios)
	if err != nil {
		return err
	}
	var names []string
	for _, sc := range selected {
		names = append(names, sc.Name)
	}
	m := metrics.New(names)
	// TLS-RPT reports (RFC 8460) come POSTed to the lab's endpoint and
	// mailed to its mailbox: one store for both, listed by the API.
	lc.TLSRPT = &tlsrpt.Store{}
	var mailed func(msgstore.Message)
	onDeliver := func(msg msgstore.Message) {
		m.Message(msg)
		mailed(msg)
	}
	if lc.Messages, err = msgstore.Open(msgstore.Config{
		Spool: cfg.Spool, MaxMessages: cfg.Store.MaxMessages, MaxBytes: cfg.Store.MaxBytes,
		Logger: logger, OnDeliver: onDeliver,
	}); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	mailed = lab.MailedReports(lc.Zone, lc.TLSRPT, lc.Messages.Raw, func(msg msgstore.Message, err error) {
		logger.Warn("a message to the TLS-RPT mailbox is no report", "message", msg.ID, "err", err)
	})
	// Catch Ctrl-C and SIGTERM before the manifest can appear: a signal
	// sent as soon as a script sees it must stop the lab cleanly (files
	// closed, records flushed), not kill it with the default action.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := lab.Start(lc)
	if err != nil {
		return err
	}
	defer l.Close()
	for _, w := range bindWarnings(l.Layout()) {
		fmt.Fprintln(env.stderr, w)
	}
	stopMetrics := l.Sessions().WatchSessions(m.Session)
	defer stopMetrics()
	if apiLn != nil {
		srv := &http.Server{
			Handler:           api.New(api.Config{Lab: l, Token: cfg.APIToken, Metrics: m.Handler(), UI: web.Handler(), Logger: logger, TLSRPT: l.TLSRPT()}),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		go srv.Serve(apiLn)
		// Close, not Shutdown: event streams never end by themselves.
		defer srv.Close()
	}

	switch {
	case f == "json":
		enc := json.NewEncoder(env.stdout)
		if err := enc.Encode(l.Layout()); err != nil {
			return err
		}
	case isTerminal(env.stdout):
		printReady(env.stdout, l.Layout())
	default:
		fmt.Fprintln(env.stderr, readyLine(l.Layout()))
	}
	logger.Info("lab ready", "scenarios", len(l.Layout().Scenarios), "dns", l.Layout().DNS, "api", l.Layout().API,
		"switchboard", l.Layout().Switchboard, "manifest", cfg.Manifest, "sessions", l.Layout().Sessions, "spool", l.Layout().Spool)

	select {
	case <-ctx.Done():
		logger.Info("stopping")
		return nil
	case err := <-l.Err():
		return err
	}
}

// checkAPIAddress applies the API's rule: beyond loopback it needs both
// --api-public and a token (made up and printed with
// --api-token-generate), and says so loudly.
func (c *Config) checkAPIAddress(stderr io.Writer) error {
	host, _, err := net.SplitHostPort(c.API)
	if err != nil {
		return fmt.Errorf("%w: api: address %q: %w", errConfig, c.API, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	if c.APIPublic && c.APIToken == "" && c.APITokenGenerate {
		if c.APIToken, err = newToken(); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "mxlab: API token (generated; set MXLAB_API_TOKEN to choose one): %s\n", c.APIToken)
	}
	if !c.APIPublic || c.APIToken == "" {
		return fmt.Errorf("%w: api: %s is beyond loopback: that needs --api-public and a token (--api-token or MXLAB_API_TOKEN)", errUsage, c.API)
	}
	fmt.Fprintf(stderr, "mxlab: WARNING: the API listens on %s, beyond loopback: anyone who can reach it and has the token can read every session and message\n", c.API)
	return nil
}

// bindWarnings names every lab listener (SMTP, DNS, switchboard) bound
// beyond loopback, one line per address: the lab answers anyone who can
// reach it (the API has its own rule, checkAPIAddress).
func bindWarnings(layout *lab.Layout) []string {
	type bound struct{ what, addr string }
	var all []bound
	for _, s := range layout.Scenarios {
		all = append(all, bound{"SMTP (" + s.Name + ")", s.SMTP})
	}
	all = append(all, bound{"DNS", layout.DNS})
	if layout.Switchboard != "" {
		all = append(all, bound{"switchboard", layout.Switchboard})
	}
	var lines []string
	seen := map[string]bool{}
	for _, b := range all {
		host, _, err := net.SplitHostPort(b.addr)
		if err != nil || seen[host] {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.IsLoopback() {
			continue
		}
		seen[host] = true
		where := host
		if ip.IsUnspecified() {
			where += " (every address of this machine)"
		}
		lines = append(lines, fmt.Sprintf("mxlab: WARNING: %s listens on %s, beyond loopback: anyone who can reach it can use the lab", b.what, where))
	}
	return lines
}

// readyLine is the one line that says where the lab listens, for logs
// and containers.
func readyLine(layout *lab.Layout) string {
	line := fmt.Sprintf("mxlab: lab ready: %d scenarios", len(layout.Scenarios))
	if n := len(layout.Scenarios); n > 0 {
		line += " (SMTP " + layout.Scenarios[0].SMTP
		if n > 1 {
			line += " … " + layout.Scenarios[n-1].SMTP
		}
		line += ")"
	}
	line += ", DNS " + layout.DNS
	if layout.API != "" {
		line += ", API http://" + layout.API + "/"
	}
	if layout.Switchboard != "" {
		line += ", switchboard " + layout.Switchboard
	}
	return line + ", CA " + layout.CACert
}

// newToken is a random API token: 24 bytes from crypto/rand, base64url.
func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
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
	if layout.API != "" {
		fmt.Fprintf(w, "  curl -s http://%s/api/v1/sessions\n", layout.API)
	}
	if layout.Switchboard != "" {
		fmt.Fprintf(w, "\nSwitchboard %s: curl -X PUT -d '{\"scenario\":\"sni-reject\"}' http://%s/api/v1/switchboard\n", layout.Switchboard, layout.API)
	}
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

// placeListeners applies --ephemeral and the switchboard's address to the
// lab's configuration.
func (c *Config) placeListeners(lc *lab.Config) error {
	if c.Switchboard != "-" {
		lc.Switchboard = c.Switchboard
		lc.SwitchboardScenario = c.SwitchboardScenario
	}
	if !c.Ephemeral {
		return nil
	}
	if c.SMTP.Port != 0 {
		return fmt.Errorf("%w: --ephemeral and --smtp-port: the shared-port layout has fixed ports; choose one", errUsage)
	}
	lc.Addressing.Ephemeral = true
	var err error
	for _, addr := range []*string{&lc.DNS, &lc.Switchboard, &c.API} {
		if *addr == "" || *addr == "-" {
			continue
		}
		if *addr, err = portZero(*addr); err != nil {
			return err
		}
	}
	return nil
}

// portZero keeps an address's host and asks for a free port.
func portZero(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w: address %q: %w", errConfig, addr, err)
	}
	return net.JoinHostPort(host, "0"), nil
}

// listenAPI binds the API's listener (nil for --api -), once
// checkAPIAddress allows its address.
func (c *Config) listenAPI(stderr io.Writer) (net.Listener, error) {
	if c.API == "" || c.API == "-" {
		return nil, nil
	}
	if err := c.checkAPIAddress(stderr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.API)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w: %w", c.API, lab.ErrBind, err)
	}
	return ln, nil
}
