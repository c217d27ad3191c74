package realpeer

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeT records how a test ended; Skip and Fatal end its goroutine as the
// testing package's do.
type fakeT struct {
	testing.TB
	ended string // "", "skip: …" or "fatal: …"
	logs  []string
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return "TestFake" }
func (f *fakeT) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Skip(args ...any)                  { f.end("skip: " + fmt.Sprint(args...)) }
func (f *fakeT) Skipf(format string, args ...any)  { f.end("skip: " + fmt.Sprintf(format, args...)) }
func (f *fakeT) Fatal(args ...any)                 { f.end("fatal: " + fmt.Sprint(args...)) }
func (f *fakeT) Fatalf(format string, args ...any) { f.end("fatal: " + fmt.Sprintf(format, args...)) }
func (f *fakeT) end(s string)                      { f.ended = s; runtime.Goexit() }

// outcome runs body as a test would and says how it ended.
func outcome(body func(t testing.TB)) string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() { defer close(done); body(f) }()
	<-done
	if f.ended == "" {
		return "ran"
	}
	return f.ended
}

func TestCurrentMode(t *testing.T) {
	for _, c := range []struct {
		mode, legacy string
		want         Mode
		err          bool
	}{
		{"", "", ModeAuto, false},
		{"", "1", "", true}, // the old switch alone is refused, not honoured
		{"require", "", ModeRequire, false},
		{"REQUIRE", "1", ModeRequire, false}, // the new switch wins
		{"off", "", ModeOff, false},
		{"auto", "1", ModeAuto, false},
		{"of", "", "", true}, // a typo never turns the tests off
	} {
		t.Run(c.mode+"/"+c.legacy, func(t *testing.T) {
			t.Setenv(EnvMode, c.mode)
			t.Setenv(EnvLegacySkip, c.legacy)
			got, err := CurrentMode()
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("CurrentMode() = %q, %v; want %q, error %v", got, err, c.want, c.err)
			}
		})
	}
}

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestNeed(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "mxlab-present", "exit 0")
	script(t, dir, "mxlab-swaks-notls", `echo "*** TLS not available: requires Net::SSLeay"`)
	script(t, dir, "mxlab-swaks-tls", `echo "=== TLS supported"`)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(EnvLegacySkip, "")
	// These skips are made up: keep them out of the report of the run
	// that runs this test (make test sets EnvReport).
	t.Setenv(EnvReport, "")
	present := Peer{Name: "mxlab-present", Packages: []string{"pkg-a"}}
	absent := Peer{Name: "mxlab-absent", Packages: []string{"pkg-b", "pkg-c"}}
	inDir := Peer{Name: "mxlab-present-elsewhere", Packages: []string{"pkg-d"}, Dirs: []string{dir}}
	script(t, dir, "mxlab-present-elsewhere", "exit 0")
	noTLS := Peer{Name: "mxlab-swaks-notls", Packages: []string{"swaks", "libnet-ssleay-perl"}, Probe: swaksTLS}
	withTLS := Peer{Name: "mxlab-swaks-tls", Packages: []string{"swaks"}, Probe: swaksTLS}

	for _, c := range []struct {
		mode string
		peer Peer
		want string // prefix of the outcome
		has  string // and a part of it
	}{
		{"require", present, "ran", ""},
		{"auto", present, "ran", ""},
		{"off", present, "skip: real peers are off", "MXLAB_REAL_PEERS=off"},
		{"require", absent, "fatal: mxlab-absent is not installed", "apt-get install -y pkg-b pkg-c"},
		{"auto", absent, "skip: mxlab-absent is not installed", "scripts/install-test-deps.sh"},
		{"off", absent, "skip: real peers are off", ""},
		{"auto", inDir, "ran", ""},
		{"require", noTLS, "fatal: mxlab-swaks-notls cannot do what the tests need", "requires Net::SSLeay"},
		{"auto", noTLS, "skip: mxlab-swaks-notls cannot do", "libnet-ssleay-perl"},
		{"require", withTLS, "ran", ""},
	} {
		t.Run(c.mode+"/"+c.peer.Name, func(t *testing.T) {
			t.Setenv(EnvMode, c.mode)
			got := outcome(func(tb testing.TB) { Need(tb, c.peer) })
			if !strings.HasPrefix(got, c.want) || !strings.Contains(got, c.has) {
				t.Fatalf("Need(%s) with %s=%s ended %q; want %q… containing %q", c.peer.Name, EnvMode, c.mode, got, c.want, c.has)
			}
		})
	}
}

func TestRequireAndReport(t *testing.T) {
	report := filepath.Join(t.TempDir(), "skips")
	t.Setenv(EnvReport, report)
	t.Setenv(EnvMode, "auto")
	if got := outcome(func(tb testing.TB) { Require(tb, false, "needs root", "run as root") }); got != "skip: needs root: run as root" {
		t.Fatalf("Require(false) in auto ended %q", got)
	}
	if got := outcome(func(tb testing.TB) { Require(tb, true, "needs root", "run as root") }); got != "ran" {
		t.Fatalf("Require(true) ended %q", got)
	}
	t.Setenv(EnvMode, "bogus")
	if got := outcome(func(tb testing.TB) { Require(tb, true, "x", "y") }); !strings.HasPrefix(got, "fatal: realpeer: MXLAB_REAL_PEERS=\"bogus\"") {
		t.Fatalf("a malformed switch ended %q, want a failure", got)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "TestFake: needs root: run as root\n" {
		t.Fatalf("skip report = %q", data)
	}
}

func TestRun(t *testing.T) {
	t.Setenv(EnvMode, "auto")
	r := Run(t, Cmd{Path: "/bin/sh", Args: []string{"-c", `read x; echo "out $x $MXLAB_T"; echo err >&2; exit 3`}, Stdin: "in\n", Env: []string{"MXLAB_T=env"}})
	if r.Stdout != "out in env\n" || r.Stderr != "err\n" || r.Code != 3 {
		t.Fatalf("Run = %+v", r)
	}
	// A hung peer fails the test once its timeout passes, killed by PID.
	got := outcome(func(tb testing.TB) {
		Run(tb, Cmd{Path: "/bin/sh", Args: []string{"-c", "exec sleep 600"}, Timeout: 1})
	})
	if !strings.HasPrefix(got, "fatal: sh -c exec sleep 600: no end within") {
		t.Fatalf("a hung peer ended %q", got)
	}
}

func TestDebsKept(t *testing.T) {
	dir := t.TempDir()
	// By name, +deb12u11 sorts before +deb12u9; by version it is newer.
	for _, f := range []string{"exim4-base_4.96-15+deb12u11_amd64.deb", "exim4-base_4.96-15+deb12u9_amd64.deb", "exim4-config_1%3a4.96-16_all.deb", "exim4-config_4.97-1_all.deb"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvDebDir, dir)
	t.Setenv(EnvMode, "auto")
	got := Debs(t, "exim4-base", "exim4-config")
	want := []string{filepath.Join(dir, "exim4-base_4.96-15+deb12u11_amd64.deb"), filepath.Join(dir, "exim4-config_1%3a4.96-16_all.deb")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Debs = %q, want %q (kept, the newest version)", got, want)
	}
	t.Setenv(EnvMode, "off")
	if got := outcome(func(tb testing.TB) { Debs(tb, "exim4-base") }); !strings.HasPrefix(got, "skip: real peers are off") {
		t.Fatalf("Debs with real peers off ended %q", got)
	}
}

func TestOptional(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "mxlab-opt-present", "exit 0")
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(EnvReport, "")
	present := Peer{Name: "mxlab-opt-present", Packages: []string{"a"}}
	absent := Peer{Name: "mxlab-opt-absent", Packages: []string{"b"}}
	for _, c := range []struct {
		mode string
		peer Peer
		want string // "path", "" or the start of how the test ended
	}{
		{"off", present, ""},
		{"auto", present, "path"},
		{"auto", absent, ""},
		{"require", present, "path"},
		{"require", absent, "fatal: mxlab-opt-absent is not installed"},
	} {
		t.Setenv(EnvMode, c.mode)
		var got string
		ended := outcome(func(tb testing.TB) { got = Optional(tb, c.peer) })
		switch {
		case c.want == "path" && (ended != "ran" || got != filepath.Join(dir, c.peer.Name)):
			t.Errorf("%s/%s: ended %q, path %q; want the path", c.mode, c.peer.Name, ended, got)
		case c.want == "" && (ended != "ran" || got != ""):
			t.Errorf("%s/%s: ended %q, path %q; want no path and the test going on", c.mode, c.peer.Name, ended, got)
		case strings.HasPrefix(c.want, "fatal") && !strings.HasPrefix(ended, c.want):
			t.Errorf("%s/%s: ended %q; want %q", c.mode, c.peer.Name, ended, c.want)
		}
	}
}
