package main

import (
	"bufio"
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

// TestIdleConnectionMemory measures what an idle plaintext session
// costs the real `mxlab serve`: its RSS growth divided by the number of
// connections, each past its banner (issue 14 measured 30-42 KB; the
// target is 16 KiB). The bound checked here is looser, against leaks
// and regressions; the figure is logged (bench/run.sh prints it).
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const n = 1000
	// The race detector's shadow memory is not the lab's: measure a
	// command built without it.
	p := startServeWith(t, plainMxlabCommand, warmState(t))
	site, err := p.layout.Site("baseline")
	if err != nil {
		t.Fatal(err)
	}
	pid := p.cmd.Process.Pid
	// One session first, so that what every session shares is counted
	// in the baseline, not in the first connection.
	warm, err := net.DialTimeout("tcp", site.SMTP, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	warm.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := bufio.NewReader(warm).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	warm.Close()
	before := rssKiB(t, pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", site.SMTP, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
			t.Fatalf("banner %q, %v", line, err)
		}
	}
	after := rssKiB(t, pid)
	per := float64(after-before) / n
	t.Logf("idle plaintext sessions: RSS %d KiB -> %d KiB for %d connections: %.1f KiB per connection", before, after, n, per)
	if per > 64 {
		t.Errorf("%.1f KiB per idle connection", per)
	}
}
