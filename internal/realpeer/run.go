package realpeer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout bounds a run of a peer whose Cmd sets none. It is a
// deadline for a hung peer, never a measurement: tests decide from what
// the peer printed.
const DefaultTimeout = 60 * time.Second

// Cmd is one run of a peer.
type Cmd struct {
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Env is added to the test's environment.
	Env []string
	// Dir is the working directory ("" for the test's).
	Dir string
	// Stdin is the peer's input; empty means /dev/null, so clients that
	// read it (openssl s_client, gnutls-cli) see EOF once the handshake is
	// done and close.
	Stdin string
	// Timeout bounds the run (0: DefaultTimeout); the peer is killed by
	// PID when it passes and the test fails.
	Timeout time.Duration
}

// Result is what a peer printed and its exit status. Stdout and Stderr
// are kept apart: s_client buffers stdout, so a combined stream could cut
// a line of one with a line of the other.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// All is everything the peer printed, stdout first.
func (r Result) All() string { return r.Stdout + r.Stderr }

// Run runs a peer to its end and logs what it printed. A peer that cannot
// start or outlives its timeout fails the test; a non-zero exit status is
// the caller's to judge.
func Run(t testing.TB, c Cmd) Result {
	t.Helper()
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A peer's children may hold its pipes open: stop waiting for them
	// once the peer itself has gone.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	line := filepath.Base(c.Path) + " " + strings.Join(c.Args, " ")
	if ctx.Err() != nil {
		t.Fatalf("%s: no end within %s:\n%s%s", line, timeout, stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", line, err)
	}
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	t.Logf("$ %s (exit %d)\n--- stdout\n%s--- stderr\n%s", line, r.Code, r.Stdout, r.Stderr)
	return r
}
