package interop

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mxlab/mxlab/internal/netns"
)

// nsListen listens on addr inside the world's namespace: the socket is
// made on an OS thread switched into it (setns) and stays there, so the
// test's goroutines can accept from it.
func (w *world) nsListen(t *testing.T, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", w.ns))
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns %s: %w", w.ns, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("interop: listen on %s in %s: %v", addr, w.ns, r.err)
	}
	t.Cleanup(func() { _ = r.ln.Close() })
	return r.ln
}

// nsDialer dials into the world's namespace.
func (w *world) nsDialer() *netns.NS { return &netns.NS{Name: w.ns} }

// daemon is a long-lived process the test started inside the namespace,
// in its own process group, recorded in the PID file.
type daemon struct {
	cmd  *exec.Cmd
	out  *netns.LockedBuffer
	done chan struct{}
}

// startDaemon starts argv inside the namespace in its own process group;
// it is stopped (SIGTERM, then SIGKILL to the group) when the test ends,
// and a killed run's next run sweeps it by the PID file. stdin may be nil.
func (w *world) startDaemon(t *testing.T, stdin io.Reader, stdout io.Writer, argv ...string) *daemon {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", w.ns}, argv...)...)
	cmd.Env = labEnv()
	d := &daemon{cmd: cmd, out: &netns.LockedBuffer{}, done: make(chan struct{})}
	if stdin == nil {
		// /dev/null may not be a device here: give it an empty pipe.
		stdin = strings.NewReader("")
	}
	cmd.Stdin = stdin
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start %s: %v", strings.Join(argv, " "), err)
	}
	// What /proc/<pid>/cmdline shows once `ip netns exec` (and unshare)
	// have exec'd: the sweep checks it before killing a PID.
	rec := argv
	if argv[0] == "unshare" {
		if i := slices.Index(argv, "bash"); i >= 0 {
			rec = argv[i:]
		}
	}
	w.pids.remember(t, cmd.Process.Pid, rec)
	go func() { _ = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { stopGroup(cmd.Process.Pid, d.done, 3*time.Second) })
	return d
}

// waitListen waits until addr in the namespace accepts connections.
func (w *world) waitListen(t *testing.T, addr string, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := w.nsDialer().Dial(addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if d != nil {
			select {
			case <-d.done:
				t.Fatalf("interop: %s ended before listening on %s:\n%s", strings.Join(d.cmd.Args, " "), addr, d.out.String())
			default:
			}
		}
		if time.Now().After(deadline) {
			out := ""
			if d != nil {
				out = d.out.String()
			}
			t.Fatalf("interop: nothing listens on %s after 15s:\n%s", addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startTLSFront is a plaintext SMTP front on listen (inside the
// namespace) for a TLS-only server at tlsAddr (openssl s_server): it
// answers the banner and EHLO (STARTTLS advertised), answers STARTTLS
// with 220 and then splices the connection to tlsAddr, so the client's
// handshake is the TLS server's. A client that does not say STARTTLS
// (the plaintext retry at may) is served in plaintext by the front.
// s_server serves one client at a time: connections are spliced one
// after the other.
func (w *world) startTLSFront(t *testing.T, listen, tlsAddr, host string) {
	t.Helper()
	ln := w.nsListen(t, listen)
	var splice sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				br := bufio.NewReader(c)
				fmt.Fprintf(c, "220 %s ESMTP front\r\n", host)
				if !serveSMTP(br, c, host, true) {
					return
				}
				fmt.Fprint(c, "220 2.0.0 Ready to start TLS\r\n")
				splice.Lock()
				defer splice.Unlock()
				s, err := w.nsDialer().Dial(tlsAddr, 5*time.Second)
				if err != nil {
					return
				}
				defer s.Close()
				go func() {
					_, _ = io.Copy(s, br)
					_ = s.(*net.TCPConn).CloseWrite()
				}()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
}

// serveSMTP is a minimal SMTP server on one connection: EHLO, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT. It returns true when the client said STARTTLS
// (offered only when starttls is set), false when the session ended.
func serveSMTP(br *bufio.Reader, w io.Writer, host string, starttls bool) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			if starttls {
				fmt.Fprintf(w, "250-%s\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 STARTTLS\r\n", host)
			} else {
				fmt.Fprintf(w, "250-%s\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n", host)
			}
		case "HELO":
			fmt.Fprintf(w, "250 %s\r\n", host)
		case "STARTTLS":
			if starttls {
				return true
			}
			fmt.Fprint(w, "503 5.5.0 TLS not available\r\n")
		case "MAIL", "RCPT", "RSET", "NOOP":
			fmt.Fprint(w, "250 2.0.0 OK\r\n")
		case "DATA":
			fmt.Fprint(w, "354 End data with <CR><LF>.<CR><LF>\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return false
				}
				if strings.TrimRight(l, "\r\n") == "." {
					break
				}
			}
			fmt.Fprint(w, "250 2.0.0 FRONT1 Message accepted for delivery\r\n")
		case "QUIT":
			fmt.Fprintf(w, "221 2.0.0 %s closing connection\r\n", host)
			return false
		default:
			fmt.Fprint(w, "500 5.5.1 Command unrecognized\r\n")
		}
	}
}

// startOpenSSLServer runs `openssl s_server -nocert` on addr inside the
// namespace with extra arguments. Its stdin and stdout are the plaintext
// inside TLS (-quiet prints nothing else): serveSMTP answers there, so a
// handshake that succeeds (anonymous TLS) carries a whole SMTP session.
func (w *world) startOpenSSLServer(t *testing.T, openssl, addr, host string, extra ...string) *daemon {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	argv := append([]string{openssl, "s_server", "-nocert", "-accept", addr, "-quiet"}, extra...)
	d := w.startDaemon(t, inR, outW, argv...)
	t.Cleanup(func() { _ = inW.Close(); _ = outR.Close(); _ = outW.Close() })
	go func() {
		br := bufio.NewReader(outR)
		// Sessions follow one another on the same stream; each ends
		// with QUIT (or the client's close, unseen here).
		for {
			serveSMTP(br, inW, host, false)
			if _, err := br.Peek(1); err != nil {
				return
			}
		}
	}()
	w.waitListen(t, addr, d)
	return d
}
