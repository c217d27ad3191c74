package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// rssKiB is a process's resident set (VmRSS), in KiB.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			var kib int
			fmt.Sscan(f[1], &kib)
			return kib
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIdleConnectionMemory measures what an idle session costs the real
// `mxlab serve`: its RSS growth divided by the number of connections, at
// 1,000 and at 5,000, in three states: past the banner, past EHLO
// (go-smtp's side has started), and past a STARTTLS handshake. Issue 14
// measured 30-42 KB plaintext and 60-73 KB with TLS; its targets are 16
// and 40 KiB. The bounds checked here are looser, against leaks and
// regressions; the figures are logged (bench/run.sh prints them).
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 12,000 connections")
	}
	states := []struct {
		name  string
		bound float64 // KiB per connection
		setup func(c net.Conn, br *bufio.Reader) error
	}{
		{"past the banner", 32, nil},
		{"past EHLO", 48, func(c net.Conn, br *bufio.Reader) error {
			_, err := command(c, br, "EHLO client.example\r\n")
			return err
		}},
		{"past STARTTLS", 80, func(c net.Conn, br *bufio.Reader) error {
			if _, err := command(c, br, "EHLO client.example\r\n"); err != nil {
				return err
			}
			if _, err := command(c, br, "STARTTLS\r\n"); err != nil {
				return err
			}
			// Only the server's memory is measured; no verdict is wanted.
			return tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.example"}).Handshake()
		}},
	}
	for _, st := range states {
		for _, n := range []int{1000, 5000} {
			t.Run(fmt.Sprintf("%s/%d", st.name, n), func(t *testing.T) {
				per := idleMemory(t, n, st.setup)
				t.Logf("idle sessions %s: %.1f KiB per connection at %d", st.name, per, n)
				if per > st.bound {
					t.Errorf("%s: %.1f KiB per idle connection at %d, bound %.0f", st.name, per, n, st.bound)
				}
			})
		}
	}
}

// command writes one command and reads its whole reply.
func command(c net.Conn, br *bufio.Reader, line string) (string, error) {
	if _, err := c.Write([]byte(line)); err != nil {
		return "", err
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil || len(l) < 4 || l[3] == ' ' {
			return l, err
		}
	}
}

// idleMemory starts a lab (the command built without the race
// detector, whose shadow memory is not the lab's), opens n sessions,
// each read past its banner and taken through setup, and returns the
// lab's RSS growth per session in KiB.
func idleMemory(t *testing.T, n int, setup func(net.Conn, *bufio.Reader) error) float64 {
	p := startServeWith(t, plainMxlabCommand, warmState(t))
	site, err := p.layout.Site("baseline")
	if err != nil {
		t.Fatal(err)
	}
	pid := p.cmd.Process.Pid
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func() {
		c, err := net.DialTimeout("tcp", site.SMTP, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReader(c)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("banner %q, %v", line, err)
		}
		if setup != nil {
			if err := setup(c, br); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One session first, so that what every session shares (pools,
	// go-smtp's first connection) is in the baseline.
	open()
	before := rssKiB(t, pid)
	for range n {
		open()
	}
	after := rssKiB(t, pid)
	return float64(after-before) / float64(n)
}
