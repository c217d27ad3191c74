package sender_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
	"github.com/mxlab/mxlab/server"
)

var (
	labOnce sync.Once
	theLab  *lab.Lab
	labErr  error
	labDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theLab != nil {
		theLab.Close()
		os.RemoveAll(labDir)
	}
	os.Exit(code)
}

// testLab is one in-process lab shared by the package's tests.
func testLab(t *testing.T) *lab.Lab {
	t.Helper()
	labOnce.Do(func() {
		labDir, labErr = os.MkdirTemp("", "mxlab-sender-test-")
		if labErr == nil {
			theLab, labErr = lab.Start(lab.Config{StateDir: labDir, DNS: "127.0.0.1:0", Addressing: lab.Addressing{Ephemeral: true}, SessionsFile: "-"})
		}
	})
	if labErr != nil {
		t.Fatal(labErr)
	}
	return theLab
}

func profile(t *testing.T, name string) *profiles.Profile {
	t.Helper()
	c, err := profiles.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sendTo(t *testing.T, prof, scenario string, edit func(*sender.Options)) *sender.Report {
	t.Helper()
	l := testLab(t)
	site, err := l.Layout().Site(scenario)
	if err != nil {
		t.Fatal(err)
	}
	opts := sender.Options{
		Profile: profile(t, prof), To: "postmaster@" + prof + "." + site.Domain,
		Resolver: &sender.Resolver{Addr: l.Layout().DNS}, Roots: l.CA().CAPool(), Timeout: 5 * time.Second,
		PortFor: l.Layout().PortFor,
	}
	if edit != nil {
		edit(&opts)
	}
	rep, err := sender.Send(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestPostfixPaths covers each outcome path of the Postfix profiles.
func TestPostfixPaths(t *testing.T) {
	tests := []struct {
		profile, scenario string
		outcome           result.Outcome
		reason            result.Reason
		bounce            string // substring of bounce_text
		sni               string // "" none, "-" no handshake
		quit              bool   // QUIT in the transcript right after the handshake
	}{
		{"postfix-may", "baseline", result.Delivered, "", "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ", "", false},
		{"postfix-may", "no-starttls", result.DeliveredPlaintext, "", "status=sent (250 2.0.0 ", "-", false},
		{"postfix-may", "no-shared-cipher", result.Deferred, "tls-alert", "dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)", "", false},
		{"postfix-may", "sni-reject", result.Delivered, "", "status=sent (250 OK id=", "", false},
		{"postfix-encrypt", "no-starttls", result.Deferred, "starttls-not-supported", "dsn=4.7.4, status=deferred (TLS is required, but was not offered by host _", "-", false},
		{"postfix-verify", "self-signed", result.Deferred, "certificate-not-trusted", "dsn=4.7.5, status=deferred (Server certificate not verified)", "", false},
		{"postfix-verify", "sni-reject", result.Deferred, "certificate-host-mismatch", "Server certificate not verified", "", false},
		{"postfix-verify", "tlsa-mismatch", result.Delivered, "", "status=sent", "", false},
		{"postfix-dane", "baseline", result.Delivered, "dane-verified", "status=sent", "mx.baseline.mxlab.test", false},
		{"postfix-dane", "tlsa-mismatch", result.Deferred, "tlsa-invalid", "dsn=4.7.5, status=deferred (Server certificate not verified)", "mx.tlsa-mismatch.mxlab.test", true},
		{"postfix-dane", "self-signed", result.Delivered, "", "status=sent", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.profile+"/"+tt.scenario, func(t *testing.T) {
			rep := sendTo(t, tt.profile, tt.scenario, nil)
			if rep.Outcome != tt.outcome || rep.Reason != tt.reason {
				t.Fatalf("outcome %s (%s), want %s (%s); transcript:\n%s", rep.Outcome, rep.Reason, tt.outcome, tt.reason, strings.Join(rep.Transcript, "\n"))
			}
			bounce := strings.Replace(tt.bounce, "host _", "host "+mxOf(rep), 1)
			if !strings.Contains(rep.BounceText, bounce) {
				t.Errorf("bounce_text %q lacks %q", rep.BounceText, bounce)
			}
			switch {
			case tt.sni == "-":
				if rep.TLS != nil {
					t.Errorf("a handshake happened: %+v", rep.TLS)
				}
			case rep.TLS == nil:
				t.Errorf("no handshake")
			case tt.sni == "" && rep.TLS.SNISent != nil, tt.sni != "" && (rep.TLS.SNISent == nil || *rep.TLS.SNISent != tt.sni):
				t.Errorf("sni_sent %v, want %q", rep.TLS.SNISent, tt.sni)
			}
			quit := len(rep.Transcript) > 0 && rep.Transcript[len(rep.Transcript)-1] == "C: QUIT" && !strings.Contains(strings.Join(rep.Transcript, "\n"), "C: MAIL")
			if tt.quit && !quit {
				t.Errorf("no QUIT right after the handshake: %q", rep.Transcript)
			}
		})
	}
}

func mxOf(rep *sender.Report) string {
	for _, s := range rep.Steps {
		if s["step"] == "mx" {
			if a, ok := s["answer"].([]string); ok && len(a) > 0 {
				return a[0]
			}
		}
	}
	return ""
}

func TestLaterAndLog(t *testing.T) {
	rep := sendTo(t, "postfix-may", "no-shared-cipher", nil)
	if len(rep.Later) != 1 || rep.Later[0].After != "PT5M" || rep.Later[0].Outcome != result.DeliveredPlaintext {
		t.Errorf("later %+v: Postfix at may retries in plaintext after minimal_backoff_time", rep.Later)
	}
	if rep.TLS.AlertReceived == nil || rep.TLS.AlertReceived.Code != 40 {
		t.Errorf("alert %+v", rep.TLS.AlertReceived)
	}
	// The probe came first, as its own session.
	if rep.Steps[2]["step"] != "probe" || !strings.Contains(fmt.Sprint(rep.Steps[2]["result"]), "alert 40") {
		t.Errorf("steps %v", rep.Steps)
	}
	if len(rep.Inferred) != 0 {
		t.Errorf("inferred %v: the lab imitates OpenSSL 3, which picks no anonymous suite", rep.Inferred)
	}
	// It says who it is, in the report and to the server.
	if !slices.ContainsFunc(rep.Transcript, func(l string) bool { return strings.HasPrefix(l, "probe C: EHLO "+sender.ProbeHELOPrefix) }) {
		t.Errorf("the probe's EHLO is not labelled %s…: %q", sender.ProbeHELOPrefix, rep.Transcript)
	}
}

func TestNetworkFailures(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepts, never speaks
		}
	}()
	tests := []struct {
		name    string
		edit    func(*sender.Options)
		outcome result.Outcome
		reason  result.Reason
	}{
		{"nxdomain", func(o *sender.Options) { o.To = "a@nonexistent.mxlab.test" }, result.Bounced, "dns-nxdomain"},
		{"servfail", func(o *sender.Options) {
			o.Resolver = &sender.Resolver{Addr: refusedAddr, Timeout: 300 * time.Millisecond}
		}, result.Deferred, "dns-servfail"},
		{"refused", func(o *sender.Options) { o.Server = refusedAddr }, result.Deferred, "connect-refused"},
		{"timeout", func(o *sender.Options) { o.Server = silent.Addr().String(); o.Timeout = 300 * time.Millisecond }, result.Deferred, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := sendTo(t, "postfix-may", "baseline", tt.edit)
			if rep.Outcome != tt.outcome || rep.Reason != tt.reason {
				t.Errorf("%s (%s), want %s (%s): %s", rep.Outcome, rep.Reason, tt.outcome, tt.reason, rep.BounceText)
			}
		})
	}
	if _, err := sender.Send(context.Background(), sender.Options{Profile: profile(t, "postfix-may"), To: "not an address"}); !errors.Is(err, sender.ErrUsage) {
		t.Errorf("bad address: %v", err)
	}
}

// TestAnonymousInference runs a server that really picks an anonymous
// suite (openssl s_server -nocert -cipher 'aNULL:@SECLEVEL=0', the 2015
// sendmail) behind a plaintext STARTTLS front: postfix-may, whose OpenSSL
// offers aNULL suites, is reported delivered over anonymous TLS, inferred.
func TestAnonymousInference(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := probe.Addr().String()
	probe.Close()
	_, port, _ := net.SplitHostPort(tlsAddr)
	cmd := exec.Command(openssl, "s_server", "-nocert", "-cipher", "aNULL:@SECLEVEL=0", "-accept", "127.0.0.1:"+port, "-naccept", "10", "-quiet")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", tlsAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("openssl s_server did not listen")
		}
	}
	front := startTLSFront(t, tlsAddr)
	rep := sendTo(t, "postfix-may", "baseline", func(o *sender.Options) { o.Server = front })
	if rep.Outcome != result.Delivered || rep.Reason != "anonymous-tls" || len(rep.Inferred) < 2 {
		t.Fatalf("outcome %s (%s), inferred %+v; steps %v", rep.Outcome, rep.Reason, rep.Inferred, rep.Steps)
	}
	if !strings.Contains(rep.Inferred[0].What, "_anon_") {
		t.Errorf("inferred %+v", rep.Inferred[0])
	}
	// Gmail offers no anonymous suite: it just gets the alert.
	rep = sendTo(t, "postfix-verify", "baseline", func(o *sender.Options) { o.Server = front })
	if rep.Outcome != result.Deferred || len(rep.Inferred) != 0 {
		t.Errorf("postfix-verify: %s, inferred %v", rep.Outcome, rep.Inferred)
	}
}

// startTLSFront is a plaintext SMTP front that answers up to STARTTLS and
// then splices the connection to a TLS server.
func startTLSFront(t *testing.T, tlsAddr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				fmt.Fprint(c, "220 front.test ESMTP\r\n")
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch strings.ToUpper(strings.Fields(line + " x")[0]) {
					case "EHLO":
						fmt.Fprint(c, "250-front.test\r\n250 STARTTLS\r\n")
					case "STARTTLS":
						fmt.Fprint(c, "220 2.0.0 Ready to start TLS\r\n")
						s, err := net.Dial("tcp", tlsAddr)
						if err != nil {
							return
						}
						defer s.Close()
						go func() {
							io.Copy(s, br)
							// s_server serves one client at a time: let it
							// see the end of this one.
							s.(*net.TCPConn).CloseWrite()
						}()
						io.Copy(c, s)
						return
					default:
						fmt.Fprint(c, "221 bye\r\n")
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestOtherSenders(t *testing.T) {
	t.Run("gmail/sni-reject", func(t *testing.T) {
		rep := sendTo(t, "gmail", "sni-reject", nil)
		if rep.Outcome != result.Deferred || rep.Reason != "tls-alert" || rep.TLS.SNISent == nil || !strings.HasPrefix(*rep.TLS.SNISent, "_dc-mx.") {
			t.Fatalf("%s (%s), sni %v", rep.Outcome, rep.Reason, rep.TLS.SNISent)
		}
		// BoringSSL: 0x10000000 + 1000 + 47 = 0x10000417.
		for _, want := range []string{"TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71)", "error:10000417:SSL routines:OPENSSL_internal:SSLV3_ALERT_ILLEGAL_PARAMETER", "SSL alert number 47"} {
			if !strings.Contains(rep.BounceText, want) {
				t.Errorf("bounce_text %q lacks %q", rep.BounceText, want)
			}
		}
		if len(rep.Later) == 0 || rep.Later[len(rep.Later)-1].Outcome != result.Bounced {
			t.Errorf("later %+v: Gmail bounces after its retry window", rep.Later)
		}
	})
	t.Run("exim/no-shared-cipher", func(t *testing.T) {
		rep := sendTo(t, "exim", "no-shared-cipher", nil)
		if rep.Outcome != result.DeliveredPlaintext {
			t.Fatalf("%s (%s): %s", rep.Outcome, rep.Reason, strings.Join(rep.Transcript, "\n"))
		}
		connects := 0
		for _, s := range rep.Steps {
			if s["step"] == "connect" {
				connects++
			}
		}
		if connects != 2 || rep.TLS.AlertReceived == nil || rep.TLS.AlertReceived.Code != 40 {
			t.Errorf("%d connections, alert %+v: Exim reconnects in plaintext after the alert", connects, rep.TLS.AlertReceived)
		}
	})
	t.Run("outlook/tlsa-mismatch", func(t *testing.T) {
		rep := sendTo(t, "outlook", "tlsa-mismatch", nil)
		if rep.Outcome != result.Deferred || rep.Reason != "tlsa-invalid" || !strings.Contains(rep.BounceText, "4.7.323") {
			t.Errorf("%s (%s): %s", rep.Outcome, rep.Reason, rep.BounceText)
		}
	})
	t.Run("sendmail/tlsa-mismatch", func(t *testing.T) {
		rep := sendTo(t, "sendmail", "tlsa-mismatch", nil)
		if rep.Outcome != result.Delivered || rep.DANE.LookedUp {
			t.Errorf("%s, dane %+v: sendmail has no DANE", rep.Outcome, rep.DANE)
		}
	})
}

// TestEveryProfileFailurePaths: for every profile, the network failures
// end as that profile's reaction says (outcome, later, text).
func TestEveryProfileFailurePaths(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	c, _ := profiles.Builtin()
	cases := []struct {
		failure result.Reason
		edit    func(*sender.Options)
	}{
		{result.DNSNXDomain, func(o *sender.Options) { o.To = "a@nonexistent.mxlab.test" }},
		{result.DNSServfail, func(o *sender.Options) {
			o.Resolver = &sender.Resolver{Addr: refusedAddr, Timeout: 200 * time.Millisecond}
		}},
		{result.ConnectRefused, func(o *sender.Options) { o.Server = refusedAddr }},
	}
	for _, p := range c.All() {
		for _, tc := range cases {
			t.Run(p.Name+"/"+string(tc.failure), func(t *testing.T) {
				rep := sendTo(t, p.Name, "baseline", tc.edit)
				want := p.On[tc.failure]
				if rep.Outcome != want.Outcome || rep.Reason != tc.failure {
					t.Errorf("%s (%s), want %s (%s)", rep.Outcome, rep.Reason, want.Outcome, tc.failure)
				}
				if len(rep.Later) != len(want.Later) {
					t.Errorf("later %+v, want %+v", rep.Later, want.Later)
				}
				if want.Message != "" && (rep.BounceText == "" || strings.Contains(rep.BounceText, "{")) {
					t.Errorf("bounce_text %q from template %q", rep.BounceText, want.Message)
				}
			})
		}
	}
}

// TestHowADANEMismatchEnds: each DANE sender leaves a TLSA mismatch the
// way its real MTA does, as the lab's record shows: Postfix says QUIT
// (measured: docs/interop-recipe.md §6b), Exim resets with neither QUIT
// nor close_notify (measured: TestFidelityExim, the record ends reset).
func TestHowADANEMismatchEnds(t *testing.T) {
	l := testLab(t)
	for _, tc := range []struct {
		profile string
		// sessions: Postfix at dane first probes for anonymous suites
		// on a connection of its own.
		sessions int
		end      server.EndReason
		quit     bool
	}{
		{"postfix-dane", 2, server.EndQuit, true},
		{"exim", 1, server.EndReset, false},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			since := len(l.Sessions().Records())
			rep := sendTo(t, tc.profile, "tlsa-mismatch", nil)
			if rep.Reason != result.TLSAInvalid {
				t.Fatalf("reason %s, want tlsa-invalid", rep.Reason)
			}
			var rec *server.Record
			for _, r := range waitRecords(t, l, since, "tlsa-mismatch", tc.sessions) {
				if r.TLS != nil {
					rec = &r
				}
			}
			if rec == nil || rec.EndReason != tc.end || slices.Contains(rec.Commands, "QUIT") != tc.quit {
				t.Errorf("lab record %+v; want TLS, end %s, QUIT %v", rec, tc.end, tc.quit)
			}
		})
	}
}

// waitRecords waits for n records of scenario after since (records are
// written when a session ends, just after the sender has gone), and
// returns them.
func waitRecords(t *testing.T, l *lab.Lab, since int, scenario string, n int) []server.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []server.Record
		recs := l.Sessions().Records()
		for _, r := range recs[min(since, len(recs)):] {
			if r.Scenario == scenario {
				out = append(out, r)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s session records after 10s, want %d", len(out), scenario, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
