package realpeer

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// Mode is what a test does when a real peer is missing.
type Mode string

const (
	// ModeRequire fails the test when a peer is missing.
	ModeRequire Mode = "require"
	// ModeAuto skips the test when a peer is missing.
	ModeAuto Mode = "auto"
	// ModeOff skips every real-peer test.
	ModeOff Mode = "off"
)

// EnvMode and EnvReport are the environment variables of the policy (see
// the package documentation); EnvLegacySkip is the older switch, refused
// with the new name when it is set alone.
const (
	EnvMode       = "MXLAB_REAL_PEERS"
	EnvReport     = "MXLAB_REAL_PEERS_REPORT"
	EnvLegacySkip = "MXLAB_SKIP_REAL_PEERS"
)

// InstallScript installs every peer; hints name it before the one package.
const InstallScript = "scripts/install-test-deps.sh"

// CurrentMode reads the policy from the environment. An unknown value is
// an error, so a typo never silently turns real-peer tests off.
func CurrentMode() (Mode, error) {
	v := strings.TrimSpace(os.Getenv(EnvMode))
	switch Mode(strings.ToLower(v)) {
	case ModeRequire:
		return ModeRequire, nil
	case ModeOff:
		return ModeOff, nil
	case ModeAuto:
		return ModeAuto, nil
	case "":
		// One switch: the older one is refused rather than half-honoured,
		// so a CI that still sets it learns the new name.
		if v := os.Getenv(EnvLegacySkip); v != "" {
			return "", fmt.Errorf("realpeer: %s=%s is no longer read: set %s=off (or auto, require)", EnvLegacySkip, v, EnvMode)
		}
		return ModeAuto, nil
	}
	return "", fmt.Errorf("realpeer: %s=%q: want require, auto or off", EnvMode, v)
}

// Enabled ends the test at once when real peers are off (and fails it when
// the switch is malformed). Tests that drive real peers call it, directly
// or through Need and Require, before doing anything costly.
func Enabled(t testing.TB) {
	t.Helper()
	mode, err := CurrentMode()
	if err != nil {
		t.Fatal(err)
	}
	if mode == ModeOff {
		t.Skipf("real peers are off (%s)", switchText())
	}
}

// Require checks a condition a real-peer test cannot run without (root, a
// network namespace, a downloaded package). ok false ends the test as the
// mode says, with what is missing and the hint that fixes it.
func Require(t testing.TB, ok bool, what, hint string) {
	t.Helper()
	Enabled(t)
	if !ok {
		missing(t, what, hint)
	}
}

// missing skips or fails a test whose peer is absent, per the mode.
func missing(t testing.TB, what, hint string) {
	t.Helper()
	mode, _ := CurrentMode()
	if mode == ModeRequire {
		t.Fatalf("%s: %s (%s=require; %s=auto skips instead)", what, hint, EnvMode, EnvMode)
	}
	msg := fmt.Sprintf("%s: %s", what, hint)
	report(t.Name(), msg)
	t.Skip(msg)
}

func switchText() string {
	return EnvMode + "=" + os.Getenv(EnvMode)
}

var reportMu sync.Mutex

// report appends a skip to the file named by EnvReport, if any. Several
// test binaries run at once; one short O_APPEND write per line keeps
// their lines whole.
func report(test, msg string) {
	path := os.Getenv(EnvReport)
	if path == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(test + ": " + strings.ReplaceAll(msg, "\n", " ") + "\n")
}
