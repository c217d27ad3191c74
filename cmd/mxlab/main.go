// Command mxlab is a reproduction lab for mail transport failures: a
// receiving SMTP server that reproduces the STARTTLS and DANE
// misconfigurations that make big senders bounce mail.
//
// The CLI is thin: each command parses flags, calls the library and maps
// the result to output and an exit code. This file holds the only
// os.Exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
)

// Exit codes (sysexits.h; the contract is docs/contracts.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 64 // EX_USAGE
	exitOSErr   = 71 // EX_OSERR: cannot bind
	exitConfig  = 78 // EX_CONFIG
)

// errUsage marks bad command-line usage.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the exit code; cancelling ctx stops
// a running serve as a signal does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ex exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(stderr, "mxlab:", ex.msg)
		}
		return ex.code
	}
	fmt.Fprintln(stderr, "mxlab:", err)
	switch {
	case errors.Is(err, errConfig), errors.Is(err, lab.ErrConfig):
		return exitConfig
	case errors.Is(err, lab.ErrBind):
		return exitOSErr
	case errors.Is(err, errUsage) || isFlagError(err) || errors.Is(err, scenarios.ErrUnknown):
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	return exitFailure
}

// exitError carries an exit code other than the error's class.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func isFlagError(err error) bool {
	// cobra reports flag errors through SetFlagErrorFunc (flagError) and
	// unknown commands with a plain error.
	var fe flagError
	return errors.As(err, &fe) || strings.HasPrefix(err.Error(), "unknown command")
}

// args wraps a cobra argument check so its error is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		return nil
	}
}

type flagError struct{ error }

// pflagValueRE is pflag's wording of a bad flag value, which ends in Go's
// own ("strconv.ParseInt: parsing \"abc\": invalid syntax").
var pflagValueRE = regexp.MustCompile(`^invalid argument "(.*)" for "(-\w, )?(--[\w-]+)" flag: (.*)$`)

// plainFlagError says what a bad flag value should be, without Go's
// function and type names (issue 15).
func plainFlagError(err error) error {
	m := pflagValueRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	want := "a valid value"
	switch why := m[4]; {
	case strings.Contains(why, "ParseInt"), strings.Contains(why, "ParseUint"):
		want = "a whole number"
	case strings.Contains(why, "ParseBool"):
		want = "true or false"
	case strings.Contains(why, "time: "):
		want = "a duration such as 30s or 5m"
	case strings.Contains(why, "ParseFloat"):
		want = "a number"
	}
	return fmt.Errorf("%s: %q is not %s", m[3], m[1], want)
}

func (f flagError) Unwrap() error { return f.error }

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:   "mxlab",
		Short: "A reproduction lab for mail transport failures",
		Long: `mxlab reproduces, on a laptop or in CI, the STARTTLS and DANE
misconfigurations that make big senders bounce mail: an SNI name refused
with alert 47, no shared cipher, a self-signed certificate, a TLSA record
that names an old key, STARTTLS not advertised.

  mxlab serve          run every scenario on loopback, with DNS and a CA
  mxlab scenarios      list the scenarios; 'mxlab scenarios NAME' for a lesson
  mxlab certs          the lab CA and each scenario's TLSA records
  mxlab tlsa CERT.pem  TLSA records for any certificate
  mxlab trust-anchor   the signed zone's DNSSEC trust anchor, for unbound or delv

Configuration: --config FILE (YAML), MXLAB_* environment variables
(MXLAB_ZONE, MXLAB_STATE_DIR, MXLAB_DNS, MXLAB_SMTP_PORT, ...), and flags,
each overriding the one before.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionText(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError{plainFlagError(err)} })
	root.PersistentFlags().StringVar(&configPath, "config", "", "YAML config file (or MXLAB_CONFIG)")
	root.PersistentFlags().String("format", "text", "output format: text, json or markdown")
	env := &cliEnv{stdin: stdin, stdout: stdout, stderr: stderr, configPath: &configPath}
	root.AddCommand(newServeCmd(env), newScenariosCmd(env), newCertsCmd(env), newTLSACmd(env),
		newSendCmd(env), newMatrixCmd(env), newProfilesCmd(env), newProbeCmd(env), newExplainCmd(env), newHealthCmd(env),
		newTrustAnchorCmd(env))
	return root
}

// cliEnv is what commands share: the streams and the --config value.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     *string
}

// format returns the validated --format value.
func format(cmd *cobra.Command, allowed ...string) (string, error) {
	f, _ := cmd.Flags().GetString("format")
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w: --format %q: want one of %v", errUsage, f, allowed)
}
