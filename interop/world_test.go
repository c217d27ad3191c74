package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/server"
)

// nsPrefix names what this package leaves on the machine: namespaces
// mxlab-interop-<pid>, their /etc/netns directories, and the PID file
// <TMPDIR>/mxlab-interop-<pid>.pids, where <pid> is the test process's.
const nsPrefix = "mxlab-interop-"

// world is a private network namespace with `mxlab serve` inside it, in
// the shared-port layout real MTAs need (port 25, one address per
// scenario), its DNS on 127.0.0.1:53 being the namespace's resolver.
type world struct {
	ns       string
	bin      string // the mxlab binary
	manifest string
	layout   *lab.Layout
	pids     *pidFile
	// labDNS is where the lab's DNS listens in the namespace (default
	// 127.0.0.1:53, the namespace's resolver); serveArgs are more
	// `mxlab serve` arguments; sendArgs more `mxlab send` arguments.
	labDNS    string
	serveArgs []string
	sendArgs  []string
}

// newWorld sweeps what killed runs left, makes the namespace, builds
// mxlab and starts the lab; everything is undone at the end of the test.
func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, nil)
}

// newWorldWith is newWorld with extra DNS records: records, when not nil,
// is called with the lab's state directory before the lab starts (it may
// put the lab's PKI there, certs.Open(stateDir+"/pki"), to issue
// certificates from the lab CA) and returns records for `mxlab serve
// --record` (zone-file lines, names relative to the lab's zone).
func newWorldWith(t *testing.T, records func(stateDir string) []string) *world {
	t.Helper()
	return newWorldOf(t, &world{}, records)
}

// newWorldOf makes the world w describes (labDNS, serveArgs, sendArgs).
func newWorldOf(t *testing.T, w *world, records func(stateDir string) []string) *world {
	t.Helper()
	realpeer.NeedNetns(t)
	sweep(t)
	w.ns, w.pids = nsPrefix+strconv.Itoa(os.Getpid()), &pidFile{path: pidFilePath(os.Getpid())}
	if w.labDNS == "" {
		w.labDNS = "127.0.0.1:53"
	}
	t.Cleanup(func() { _ = os.Remove(w.pids.path) })
	w.pids.rememberDir(t)

	// docs/interop-recipe.md §1: a namespace with lo up; 127/8 is local there,
	// so the lab binds 127.0.1.x without adding addresses.
	run(t, 10*time.Second, "ip", "netns", "add", w.ns)
	t.Cleanup(func() { removeNamespace(w.ns) })
	run(t, 10*time.Second, "ip", "-n", w.ns, "link", "set", "lo", "up")
	// docs/interop-recipe.md §1: `ip netns exec` bind-mounts this file over
	// /etc/resolv.conf, pinning its inode: write it in place, never by
	// rename. trust-ad is not needed by Postfix (§6c), but by other glibc
	// tools.
	etc := filepath.Join("/etc/netns", w.ns)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	// The resolver is compose.yaml's Postfix's too (postfix/resolv.conf).
	resolv, err := os.ReadFile("../postfix/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), resolv, 0o644); err != nil {
		t.Fatal(err)
	}

	w.bin = buildMxlab(t)
	w.startLab(t, records)
	return w
}

// buildMxlab builds the mxlab binary once, into a temporary directory.
func buildMxlab(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("interop: the go tool is needed to build mxlab: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mxlab")
	run(t, 3*time.Minute, goTool, "build", "-o", bin, "github.com/mxlab/mxlab/cmd/mxlab")
	return bin
}

// startLab runs `mxlab serve` inside the namespace and waits for its
// manifest, which it writes once every listener answers.
func (w *world) startLab(t *testing.T, records func(stateDir string) []string) {
	t.Helper()
	dir := t.TempDir()
	w.manifest = filepath.Join(dir, "manifest.json")
	state := filepath.Join(dir, "state")
	argv := []string{w.bin, "serve", "--smtp-port", "25", "--smtp-net", "127.0.1.0/24", "--dns", w.labDNS,
		"--manifest", w.manifest, "--sessions-file", filepath.Join(dir, "sessions.jsonl"), "--state-dir", state}
	argv = append(argv, w.serveArgs...)
	if records != nil {
		for _, r := range records(state) {
			argv = append(argv, "--record", r)
		}
	}
	d := w.startDaemon(t, nil, nil, argv...)
	out, done := d.out, d.done
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mxlab serve said:\n%s", out.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		if layout, err := lab.ReadManifest(w.manifest); err == nil {
			w.layout = layout
			return
		}
		select {
		case <-done:
			t.Fatalf("interop: mxlab serve ended before writing its manifest:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("interop: no manifest from mxlab serve within 30s:\n%s", out.String())
		}
	}
}

// labEnv is the environment without MXLAB_* settings, which would change
// the lab's layout.
func labEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MXLAB_") {
			env = append(env, kv)
		}
	}
	return env
}

// command runs a command inside the namespace, bounded by timeout, and
// returns what it printed and its exit status; err is for a command that
// could not run or did not end. Safe for concurrent use.
func (w *world) command(timeout time.Duration, stdin string, argv ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", w.ns}, argv...)...)
	cmd.Env = labEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return out.String(), errOut.String(), -1, fmt.Errorf("%s: no end within %s", strings.Join(argv, " "), timeout)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return out.String(), errOut.String(), -1, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode(), nil
}

// nsRun is command for the test's goroutine: a command that cannot run
// fails the test; its exit status and output are returned.
func (w *world) nsRun(t *testing.T, timeout time.Duration, stdin string, argv ...string) (output string, code int) {
	t.Helper()
	stdout, stderr, code, err := w.command(timeout, stdin, argv...)
	if err != nil {
		t.Fatalf("interop: %v\n%s%s", err, stdout, stderr)
	}
	return stdout + stderr, code
}

// sessions reads the lab's session records so far.
func (w *world) sessions(t *testing.T) []server.Record {
	t.Helper()
	f, err := os.Open(w.layout.Sessions)
	if err != nil {
		t.Fatalf("interop: sessions file: %v", err)
	}
	defer f.Close()
	var recs []server.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var r server.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A line still being written; the next read has it whole.
			break
		}
		recs = append(recs, r)
	}
	return recs
}

// run runs a command outside the namespace, failing the test with its
// output if it fails or outlasts timeout.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("interop: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// removeNamespace deletes a namespace and its /etc/netns directory.
func removeNamespace(ns string) {
	_ = exec.Command("ip", "netns", "del", ns).Run()
	_ = os.RemoveAll(filepath.Join("/etc/netns", ns))
}

// pidFile records every long-lived process the test starts (PID and
// argv), so that a later run can kill what a killed run left: t.Cleanup
// does not run when the test binary is killed.
type pidFile struct {
	mu   sync.Mutex
	path string
}

// pidEntry is a process (PID and Argv), or a directory to remove (Dir).
type pidEntry struct {
	PID  int      `json:"pid,omitempty"`
	Argv []string `json:"argv,omitempty"`
	Dir  string   `json:"dir,omitempty"`
}

func pidFilePath(owner int) string {
	return filepath.Join(os.TempDir(), nsPrefix+strconv.Itoa(owner)+".pids")
}

func (p *pidFile) remember(t *testing.T, pid int, argv []string) {
	t.Helper()
	p.add(t, pidEntry{PID: pid, Argv: argv})
}

// rememberDir records the test's temporary directory (t.TempDir's
// parent), which a killed run leaves behind too.
func (p *pidFile) rememberDir(t *testing.T) {
	t.Helper()
	p.add(t, pidEntry{Dir: filepath.Dir(t.TempDir())})
}

func (p *pidFile) add(t *testing.T, e pidEntry) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	line, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("interop: pid file: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		t.Fatalf("interop: pid file: %v", err)
	}
}

// sweep removes what earlier runs whose process is gone left behind:
// their processes (only where /proc/<pid>/cmdline still is what was
// started, so a reused PID is never hit), their namespaces and their
// /etc/netns directories.
func sweep(t *testing.T) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), nsPrefix+"*.pids"))
	for _, path := range files {
		owner, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), nsPrefix), ".pids"))
		if err != nil || owner == os.Getpid() || alive(owner) {
			continue
		}
		data, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(data), "\n") {
			var e pidEntry
			if json.Unmarshal([]byte(line), &e) != nil {
				continue
			}
			if e.PID > 1 && runs(e.PID, e.Argv) {
				t.Logf("interop: killing pid %d (%s) left by run %d", e.PID, strings.Join(e.Argv, " "), owner)
				killGroup(e.PID, syscall.SIGKILL)
			}
			// Only a directory of a test temporary directory's shape,
			// directly in TMPDIR.
			if e.Dir != "" && filepath.Dir(e.Dir) == filepath.Clean(os.TempDir()) && strings.HasPrefix(filepath.Base(e.Dir), "Test") {
				defer os.RemoveAll(e.Dir) // once its processes are gone
			}
		}
		_ = os.Remove(path)
	}
	for _, dir := range []string{"/var/run/netns", "/etc/netns"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
			owner, err := strconv.Atoi(rest)
			if !ok || err != nil || owner == os.Getpid() || alive(owner) {
				continue
			}
			t.Logf("interop: removing namespace %s left by run %d", e.Name(), owner)
			removeNamespace(e.Name())
		}
	}
}

// alive says whether a process exists (a zombie counts as gone).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// runs says whether pid still runs argv: its command line ends with argv
// (before exec, `ip netns exec NS` comes first).
func runs(pid int, argv []string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(argv) == 0 {
		return false
	}
	// A process that rewrote its title (sendmail) pads it with NULs.
	got := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	return len(got) >= len(argv) && slices.Equal(got[len(got)-len(argv):], argv)
}

// killGroup signals pid's process group when pid leads one (mxlab serve
// is started with Setpgid, Postfix's master calls setsid), else pid.
func killGroup(pid int, sig syscall.Signal) {
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		_ = syscall.Kill(-pid, sig)
		return
	}
	_ = syscall.Kill(pid, sig)
}

// stopGroup ends a process group started by the test: SIGTERM, and
// SIGKILL if it has not ended (done closed) within grace.
func stopGroup(pid int, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done: // reaped: the PID may be someone else's now
		return
	default:
	}
	killGroup(pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		killGroup(pid, syscall.SIGKILL)
		<-done
	}
}
