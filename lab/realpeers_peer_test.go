package lab_test

import (
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/warmstate"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/server"
)

// peerTimeout bounds one run of a real client: a deadline for a hung
// client, never a measurement.
const peerTimeout = 15 * time.Second

// runPeerUntil runs a client that would wait forever (a peer that sends a
// ClientHello to a server that reads it as SMTP lines) until its output
// matches until, then kills it by PID.
func runPeerUntil(t *testing.T, until *regexp.Regexp, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &netns.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	// Kill by PID; os.Process knows when it has been reaped and then
	// signals nothing, so a reused PID is never hit.
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(peerTimeout)
	for !until.MatchString(out.String()) {
		select {
		case <-done:
			t.Logf("$ %s %s (ended by itself)\n%s", filepath.Base(name), strings.Join(args, " "), out.String())
			return out.String()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q did not appear within %s:\n%s", filepath.Base(name), until, peerTimeout, out.String())
		}
	}
	stop()
	t.Logf("$ %s %s (killed after %q)\n%s", filepath.Base(name), strings.Join(args, " "), until, out.String())
	return out.String()
}

// warm is the first lab's state directory (PKI keys and seed), so that
// every later lab in this test binary starts warm: RSA key generation is
// nearly all of lab.Start's cost (~0.5 s cold, ~10 ms warm).
var warm warmstate.Cache

// startLab runs every built-in scenario in-process on 127.0.0.1 with
// ephemeral ports, stopped at the end of the test.
func startLab(t *testing.T) *lab.Lab {
	t.Helper()
	dir := t.TempDir()
	if err := warm.Seed(dir); err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(lab.Config{
		StateDir:     dir,
		DNS:          "127.0.0.1:0",
		Addressing:   lab.Addressing{Ephemeral: true},
		SessionsFile: "-",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := warm.Keep(dir); err != nil {
		t.Fatal(err)
	}
	return l
}

// site returns a running scenario's place in the lab.
func site(t *testing.T, l *lab.Lab, name string) *lab.Site {
	t.Helper()
	s, err := l.Layout().Site(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dialect returns the dialect a site imitates.
func dialect(t *testing.T, s *lab.Site) *scenarios.Dialect {
	t.Helper()
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cat.Dialect(s.Scenario().Imitates)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mark is where the session records stand before a client runs.
func mark(l *lab.Lab) int { return len(l.Sessions().Records()) }

// nextRecord waits for the first record of scenario added at or after
// since: records are added when a session ends, a little after the client
// has gone.
func nextRecord(t *testing.T, l *lab.Lab, since int, scenario string) server.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := l.Sessions().Records()
		for _, r := range recs[min(since, len(recs)):] {
			if r.Scenario == scenario {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session record for %s within 10s (records since %d: %d)", scenario, since, len(recs)-since)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recordFrom waits for the record of the session on conn (the client's
// end) among those that ended after the mark since: both ends of the
// connection must match, and records before the mark are never looked
// at, since a busy machine reuses client ports (a session of another
// scenario from the same port came first once, under load).
func recordFrom(t *testing.T, l *lab.Lab, since int, conn net.Conn) server.Record {
	t.Helper()
	local, remote := conn.LocalAddr().String(), conn.RemoteAddr().String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := l.Sessions().Records()
		for _, r := range recs[min(since, len(recs)):] {
			if r.Remote == local && r.Local == remote {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session record from %s to %s within 10s", local, remote)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sniOf renders a record's SNI for messages: the name, or "none".
func sniOf(r server.Record) string {
	if r.ClientHello == nil {
		return "(no ClientHello)"
	}
	if r.ClientHello.SNI == nil {
		return "none"
	}
	return *r.ClientHello.SNI
}

// wantKeywords is the EHLO keyword list the scenario's data promises: the
// dialect's keywords in order, STARTTLS only before TLS and where offered,
// AUTH with the scenario's mechanisms only where offered at that point, or
// as the dialect lists it (with its mechanisms) when the scenario
// configures no AUTH.
func wantKeywords(d *scenarios.Dialect, sc *scenarios.Scenario, inTLS bool) []string {
	kws := d.Keywords
	if inTLS && len(d.KeywordsAfterTLS) > 0 {
		kws = d.KeywordsAfterTLS
	}
	if len(sc.SMTP.EHLOKeywords) > 0 {
		kws = sc.SMTP.EHLOKeywords
	}
	var out []string
	for _, kw := range kws {
		switch strings.ToUpper(strings.Fields(kw)[0]) {
		case "STARTTLS":
			if inTLS || !sc.SMTP.OffersSTARTTLS() {
				continue
			}
		case "AUTH":
			a := sc.SMTP.Auth
			switch {
			case a == nil && len(strings.Fields(kw)) > 1:
			case a == nil || (a.AfterTLSOnly && !inTLS):
				continue
			default:
				kw = "AUTH " + strings.Join(a.Mechanisms, " ")
			}
		}
		out = append(out, kw)
	}
	return out
}

var placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)

// templateRE turns a dialect reply template into a pattern for one reply
// line: {host} is the site's host name, every other placeholder (date,
// client address and name, queue id) is whatever the session made of it.
func templateRE(tmpl, host string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range placeholderRE.FindAllStringIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		if tmpl[m[0]:m[1]] == "{host}" {
			b.WriteString(regexp.QuoteMeta(host))
		} else {
			b.WriteString(".+?")
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// runPeerUntilFunc is runPeerUntil with a condition on anything the test
// can see (the client's output is passed to it).
func runPeerUntilFunc(t *testing.T, until func(out string) bool, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &netns.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(peerTimeout)
	for !until(out.String()) {
		select {
		case <-done:
			t.Logf("$ %s %s (ended by itself)\n%s", filepath.Base(name), strings.Join(args, " "), out.String())
			return out.String()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the awaited condition did not hold within %s:\n%s", filepath.Base(name), peerTimeout, out.String())
		}
	}
	stop()
	t.Logf("$ %s %s (stopped)\n%s", filepath.Base(name), strings.Join(args, " "), out.String())
	return out.String()
}

// relay is a TCP relay on 127.0.0.1 to one target, for one connection,
// keeping what each side sent: it shows what a client that prints
// nothing has been told.
type relay struct {
	addr                   string
	fromServer, fromClient netns.LockedBuffer
}

// startRelay listens on 127.0.0.1:0 and relays the first connection to
// target; everything stops at the end of the test.
func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{addr: ln.Addr().String()}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		mu.Lock()
		conns = append(conns, c, u)
		mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = io.Copy(io.MultiWriter(c, &r.fromServer), u); c.Close() }()
		go func() { defer wg.Done(); _, _ = io.Copy(io.MultiWriter(u, &r.fromClient), c); u.Close() }()
		wg.Wait()
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		<-done
	})
	return r
}
