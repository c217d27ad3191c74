package mxlabtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/mxlabtest"
	"github.com/mxlab/mxlab/server"
)

// TestApplication: an application's own sending code, given only the
// fixture's resolver, dialer and CA pool (no server name, no port),
// finds each scenario through DNS and meets its failure.
func TestApplication(t *testing.T) {
	lab := mxlabtest.Start(t, mxlabtest.Scenarios("sni-reject", "no-starttls"))
	app := sender{Resolver: lab.Resolver(), Dial: lab.DialContext, Roots: lab.CertPool()}
	for _, c := range []struct {
		scenario string
		check    func(t *testing.T, sendErr error, rec server.Record)
	}{
		{"sni-reject", func(t *testing.T, sendErr error, rec server.Record) {
			// Go sends the MX name as SNI; the Exim of the incident
			// refuses it with alert 47.
			if sendErr == nil || !strings.Contains(sendErr.Error(), "illegal parameter") {
				t.Errorf("send: %v; want the server's illegal_parameter alert", sendErr)
			}
			if rec.AlertSent == nil || rec.AlertSent.Code != 47 || rec.ClientHello == nil || rec.ClientHello.SNI == nil || *rec.ClientHello.SNI != lab.Scenario("sni-reject").MX {
				t.Errorf("record: alert %+v, hello %+v; want alert 47 to the SNI %s", rec.AlertSent, rec.ClientHello, lab.Scenario("sni-reject").MX)
			}
		}},
		{"no-starttls", func(t *testing.T, sendErr error, rec server.Record) {
			if sendErr != nil {
				t.Errorf("send: %v", sendErr)
			}
			if rec.TLS != nil || rec.Message == nil || len(rec.Messages) != 1 {
				t.Errorf("record: tls %+v, message %+v, ids %v; want one message in plaintext", rec.TLS, rec.Message, rec.Messages)
			}
		}},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			since := time.Now()
			to := "user@" + lab.Scenario(c.scenario).Domain
			err := app.send(ctx, "app@example.test", to, "Subject: t\r\n\r\nbody\r\n")
			rec, werr := lab.WaitSession(ctx, mxlabtest.Filter{Scenario: c.scenario, Since: since})
			if werr != nil {
				t.Fatal(werr)
			}
			c.check(t, err, rec)
		})
	}
	msgs := lab.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || !strings.HasSuffix(msgs[0].To[0], lab.Scenario("no-starttls").Domain) {
		t.Errorf("messages %+v; want the no-starttls one", msgs)
	}
}

// TestDialContext: port 25 of a lab name or address reaches its
// scenario; nothing else is dialled.
func TestDialContext(t *testing.T) {
	lab := mxlabtest.Start(t, mxlabtest.Scenarios("baseline", "no-starttls"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base, plain := lab.Scenario("baseline"), lab.Scenario("no-starttls")
	for _, c := range []struct {
		addr, want string // want: the listener reached, or a part of the error
	}{
		{base.MX + ":25", base.SMTP},
		{strings.ToUpper(base.MX) + ".:25", base.SMTP},
		{plain.MX + ":smtp", plain.SMTP},
		{base.Addr().Addr().String() + ":25", base.SMTP},
		{base.SMTP, base.SMTP},
		{"mx.example.org:25", "is not in the lab's zone"},
		{base.MX + ":587", "routes port 25"},
		{"192.0.2.1:25", "is no scenario's address"},
		{"nonsense", "missing port"},
		{"nothing-here." + lab.Layout().Zone + ":25", "no such host"},
	} {
		conn, err := lab.DialContext(ctx, "tcp", c.addr)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = conn.RemoteAddr().String()
			conn.Close()
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("DialContext(%q) = %q; want %q", c.addr, got, c.want)
		}
	}
}

func TestWaitSession(t *testing.T) {
	lab := mxlabtest.Start(t, mxlabtest.Scenarios("baseline"))
	// Nothing ended: the wait ends with the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lab.WaitSession(ctx, mxlabtest.Filter{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitSession on a done context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := lab.DialContext(ctx, "tcp", lab.Scenario("baseline").MX+":25")
	if err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().String()
	conn.Close()
	rec, err := lab.WaitSession(ctx, mxlabtest.Filter{Remote: local})
	if err != nil || rec.Remote != local {
		t.Fatalf("WaitSession(remote %s) = %+v, %v", local, rec, err)
	}
	// A session that ended already is found without waiting.
	if again, err := lab.WaitSession(ctx, mxlabtest.Filter{Scenario: "baseline"}); err != nil || again.ID != rec.ID {
		t.Fatalf("WaitSession for an ended session = %+v, %v", again, err)
	}
	// Of several ended sessions, the newest; Since picks a later one.
	since := time.Now()
	conn, err = lab.DialContext(ctx, "tcp", lab.Scenario("baseline").MX+":25")
	if err != nil {
		t.Fatal(err)
	}
	second := conn.LocalAddr().String()
	conn.Close()
	if got, err := lab.WaitSession(ctx, mxlabtest.Filter{Since: since}); err != nil || got.Remote != second {
		t.Fatalf("WaitSession(since) = %+v, %v; want the session from %s", got, err, second)
	}
	if got, err := lab.WaitSession(ctx, mxlabtest.Filter{Scenario: "baseline"}); err != nil || got.Remote != second {
		t.Fatalf("WaitSession with two ended = %+v, %v; want the newest, from %s", got, err, second)
	}
}

func TestFilter(t *testing.T) {
	ended := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := server.Record{Scenario: "baseline", Remote: "127.0.0.1:4242", Ended: ended}
	for _, c := range []struct {
		name string
		f    mxlabtest.Filter
		want bool
	}{
		{"zero", mxlabtest.Filter{}, true},
		{"scenario", mxlabtest.Filter{Scenario: "baseline"}, true},
		{"other scenario", mxlabtest.Filter{Scenario: "sni-reject"}, false},
		{"remote ip", mxlabtest.Filter{Remote: "127.0.0.1"}, true},
		{"remote ip:port", mxlabtest.Filter{Remote: "127.0.0.1:4242"}, true},
		{"other remote", mxlabtest.Filter{Remote: "127.0.0.2"}, false},
		{"ended after since", mxlabtest.Filter{Since: ended.Add(-time.Second)}, true},
		{"ended at since", mxlabtest.Filter{Since: ended}, false},
		{"match", mxlabtest.Filter{Match: func(r server.Record) bool { return r.TLS == nil }}, true},
		{"no match", mxlabtest.Filter{Match: func(r server.Record) bool { return r.TLS != nil }}, false},
	} {
		if got := c.f.Matches(rec); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestNewError: a lab that cannot start says why, in the lab's words.
func TestNewError(t *testing.T) {
	l, err := mxlabtest.New(mxlabtest.Scenarios("no-such-scenario"))
	if err == nil {
		l.Close()
		t.Fatal("a lab with an unknown scenario started")
	}
	if !strings.Contains(err.Error(), "no-such-scenario") || !strings.HasPrefix(err.Error(), "mxlabtest: ") {
		t.Fatalf("error %q does not name the scenario", err)
	}
}
