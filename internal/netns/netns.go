// Package netns runs test peers that cannot bind to loopback alone
// (gnutls-serv) or that must see the lab's DNS as their resolver inside a
// private network namespace, and dials into it from the test.
package netns

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
	"golang.org/x/sys/unix"
)

// prefix names the namespaces this package makes; the suffix is the
// creating process's PID, so a later run can sweep what a killed one left.
const prefix = "mxlab-t-"

var seq atomic.Int32

// NS is a network namespace with its loopback up.
type NS struct {
	// Name is the namespace's name (ip netns).
	Name string
	mu   sync.Mutex
	cmds []*exec.Cmd
}

// New creates a namespace, removed (with every process started in it) at
// the end of the test.
func New(t testing.TB) *NS {
	t.Helper()
	realpeer.NeedNetns(t) // root and ip, or the test ends as the policy says
	Sweep()
	n := &NS{Name: fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.Name, err, out)
	}
	t.Cleanup(n.Close)
	if out, err := exec.Command("ip", "-n", n.Name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", n.Name, err, out)
	}
	return n
}

// Sweep deletes namespaces left by test processes that no longer run.
func Sweep() {
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// Proc is a process started in a namespace, with its output.
type Proc struct {
	Cmd *exec.Cmd
	out *LockedBuffer
}

// Output returns what the process printed so far (stdout and stderr).
func (p *Proc) Output() string { return p.out.String() }

// Start runs a command inside the namespace; it is killed (by PID, with
// its process group) when the test ends.
func (n *NS) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	buf := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", name, n.Name, err)
	}
	n.mu.Lock()
	n.cmds = append(n.cmds, cmd)
	n.mu.Unlock()
	return &Proc{Cmd: cmd, out: buf}
}

// Close kills the namespace's processes and deletes it.
func (n *NS) Close() {
	n.mu.Lock()
	cmds := n.cmds
	n.cmds = nil
	n.mu.Unlock()
	for _, c := range cmds {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_ = c.Wait()
		}
	}
	_ = exec.Command("ip", "netns", "del", n.Name).Run()
}

// Dial connects from inside the namespace: the socket is made on an OS
// thread switched into it (setns), and stays there.
func (n *NS) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is never unlocked: it ends with the goroutine, so
		// no other goroutine runs in the namespace.
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", n.Name))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", n.Name, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// WaitDial retries Dial until the peer listens or the timeout passes.
func (n *NS) WaitDial(addr string, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := n.Dial(addr, time.Second)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LockedBuffer is a bytes.Buffer safe for a process writing while a test
// reads: what test peers print.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *LockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *LockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
