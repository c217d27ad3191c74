package main

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/server"
)

// smtpClient is a bare client of a `serve` process: it sends lines and
// checks reply codes, returning the last reply line.
type smtpClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &smtpClient{t: t, c: c, r: bufio.NewReader(c)}
	s.expect("220")
	return s
}

func (s *smtpClient) expect(code string) string {
	s.t.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("waiting for %s: %v", code, err)
		}
		if !strings.HasPrefix(line, code) {
			s.t.Fatalf("got %q, want %s", line, code)
		}
		if line[3] == ' ' {
			return strings.TrimSpace(line)
		}
	}
}

func (s *smtpClient) cmd(line, code string) string {
	s.t.Helper()
	fmt.Fprintf(s.c, "%s\r\n", line)
	return s.expect(code)
}

// deliver sends one message and returns the queue id its 250 gives
// (Postfix's "250 2.0.0 Ok: queued as ID").
func (s *smtpClient) deliver(n int) string {
	s.t.Helper()
	s.cmd("MAIL FROM:<a@client.example>", "250")
	s.cmd("RCPT TO:<postmaster@baseline.mxlab.test>", "250")
	s.cmd("DATA", "354")
	reply := s.cmd(fmt.Sprintf("Subject: %d\r\n\r\nhello\r\n.", n), "250")
	f := strings.Fields(reply)
	return f[len(f)-1]
}

// TestSIGKILLAtEachPhase kills a real `mxlab serve` by its PID at each
// phase of a session (issue 14: records were lost or torn). Whatever
// the phase, every queue id a 250 gave is in the accepted file, the
// sessions file reads without a torn line, and every session that saw
// its 221 has its record.
func TestSIGKILLAtEachPhase(t *testing.T) {
	for _, tc := range []struct {
		name string
		// last runs the session during which the lab is killed; it
		// returns the queue ids acknowledged and whether 221 was seen.
		last func(s *smtpClient) (ids []string, quit bool)
	}{
		{"after 250 for DATA", func(s *smtpClient) ([]string, bool) {
			return []string{s.deliver(100)}, false
		}},
		{"after 221", func(s *smtpClient) ([]string, bool) {
			id := s.deliver(100)
			s.cmd("QUIT", "221")
			return []string{id}, true
		}},
		{"mid-session", func(s *smtpClient) ([]string, bool) {
			ids := []string{s.deliver(100), s.deliver(101)}
			s.cmd("MAIL FROM:<a@client.example>", "250")
			return ids, false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sessions := filepath.Join(dir, "sessions.jsonl")
			p := startServe(t, warmState(t), "--sessions-file", sessions)
			if want := filepath.Join(dir, "accepted.jsonl"); p.layout.Accepted != want {
				t.Fatalf("manifest: accepted %q, want %q", p.layout.Accepted, want)
			}
			site, err := p.layout.Site("baseline")
			if err != nil {
				t.Fatal(err)
			}
			var acked, quitted []string
			for i := range 3 { // finished sessions before the one killed
				s := dialSMTP(t, site.SMTP)
				s.cmd("EHLO client.example", "250")
				acked = append(acked, s.deliver(i))
				quitted = append(quitted, acked[len(acked)-1])
				s.cmd("QUIT", "221")
			}
			s := dialSMTP(t, site.SMTP)
			s.cmd("EHLO client.example", "250")
			ids, quit := tc.last(s)
			acked = append(acked, ids...)
			if quit {
				quitted = append(quitted, ids...)
			}
			// Killed the moment the last reply is read.
			if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = p.cmd.Wait()

			accepted, err := server.ReadJSONLinesFile[server.Accepted](p.layout.Accepted)
			if err != nil {
				t.Fatalf("accepted file: %v", err)
			}
			var inFile []string
			for _, a := range accepted {
				if a.Session == "" || a.Scenario != "baseline" || a.From != "a@client.example" || a.Size == 0 {
					t.Errorf("accepted line %+v", a)
				}
				inFile = append(inFile, a.QueueID)
			}
			for _, id := range acked {
				if !slices.Contains(inFile, id) {
					t.Errorf("queue id %s was acknowledged but is not in the accepted file %v", id, inFile)
				}
			}
			recs, err := server.ReadJSONLinesFile[server.Record](sessions)
			if err != nil {
				t.Fatalf("sessions file: %v", err)
			}
			var recorded []string
			for _, r := range recs {
				recorded = append(recorded, r.QueueIDs...)
			}
			for _, id := range quitted {
				if !slices.Contains(recorded, id) {
					t.Errorf("the session of queue id %s saw its 221 but has no record (recorded: %v)", id, recorded)
				}
			}
			t.Logf("acknowledged %d, accepted file %d, recorded %d", len(acked), len(inFile), len(recorded))
		})
	}
}

// TestSIGTERMOnceReady: a SIGTERM sent as soon as the manifest appears
// stops the lab cleanly (exit 0), never by the signal's default action:
// the handler is in place before the manifest is written.
func TestSIGTERMOnceReady(t *testing.T) {
	p := startServe(t, warmState(t))
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	if st := p.cmd.ProcessState; !st.Exited() || st.ExitCode() != 0 {
		t.Fatalf("after SIGTERM: %v; want exit 0\n%s", st, p.stderr.String())
	}
}
