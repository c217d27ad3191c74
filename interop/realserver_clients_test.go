package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/server"
	"github.com/mxlab/mxlab/tlsalert"
)

// clientTarget is one side of a client cell: the server's address
// (port 25), its MX host name and a recipient domain of the cell's own
// (whose MX is that host).
type clientTarget struct {
	addr, mx, domain string
}

// clientSender is a real SMTP client run once against each side.
type clientSender struct {
	name string
	// argv is the command for a side.
	argv func(tg clientTarget) []string
	// run, when set, is a Go client run instead of a command; it
	// returns what it did (a transcript) and 0, or 1 for a dialogue
	// that broke off.
	run func(w *world, tg clientTarget) (out string, code int)
	// parse turns what it printed into a row's side and what it saw.
	parse func(out string) (Side, clientSaw)
	// sni is the server name it sends in its ClientHello against a
	// side (tlsa: the side publishes a TLSA record), "" for none.
	sni func(tg clientTarget, tlsa bool) string
	// only limits it to one scenario ("" for all).
	only string
	// sendsMX: it always sends the MX name as SNI (for sni-reject, the
	// cell says so).
	sendsMX bool
	// limit bounds a run (0: 30s).
	limit time.Duration
}

func (cs clientSender) timeout() time.Duration {
	if cs.limit == 0 {
		return 30 * time.Second
	}
	return cs.limit
}

// clientSaw is what a client saw of the TLS handshake: whether it sent a
// ClientHello at all (the server accepted STARTTLS), the alert it
// received (-1 for none) and whether the handshake completed. The lab's
// session record of the connection must agree.
type clientSaw struct {
	hello     bool
	alert     int
	handshake bool
}

func noSNI(clientTarget, bool) string      { return "" }
func mxSNI(tg clientTarget, _ bool) string { return tg.mx }

// alertCode is a received alert's number from its number or its name
// ("illegal parameter", "sslv3 alert handshake failure"), -1 when
// unknown.
func alertCode(s string) int {
	s = strings.TrimPrefix(strings.TrimSpace(s), "sslv3 alert ")
	d, err := tlsalert.ParseDescription(strings.ReplaceAll(s, " ", "_"))
	if err != nil {
		return -1
	}
	return int(d)
}

// clientSenders are swaks (--tls-optional, --tls, and --tls with the MX
// name as SNI, the way Gmail connects) and posttls-finger at may, dane
// and secure (MAIL_CONFIG: a minimal main.cf, docs/interop-recipe.md §8).
func clientSenders(swaks, finger, mailConfig, ca string) []clientSender {
	sw := func(extra ...string) func(tg clientTarget) []string {
		return func(tg clientTarget) []string {
			return append([]string{swaks, "--server", tg.addr, "--to", "rcpt@" + tg.domain, "--from", "sender@client.lab.test",
				"--helo", "client.lab.test", "--timeout", "20"}, extra...)
		}
	}
	pf := func(level string) func(tg clientTarget) []string {
		return func(tg clientTarget) []string {
			return []string{"env", "MAIL_CONFIG=" + mailConfig, finger, "-t20", "-T30", "-c", "-l", level, "-F", ca, tg.domain}
		}
	}
	return []clientSender{
		{name: "swaks --tls-optional", argv: sw("--tls-optional"), parse: parseSwaks, sni: noSNI},
		{name: "swaks --tls", argv: sw("--tls"), parse: parseSwaks, sni: noSNI},
		{name: "swaks --tls --tls-sni MX", only: "sni-reject", parse: parseSwaks, sni: mxSNI, argv: func(tg clientTarget) []string {
			return sw("--tls", "--tls-sni", tg.mx)(tg)
		}},
		{name: "posttls-finger -l may", argv: pf("may"), parse: parseFinger, sni: noSNI},
		// At dane, Postfix sends the MX name as SNI where DANE applies
		// (a TLSA record); without one it is secure, without SNI.
		{name: "posttls-finger -l dane", argv: pf("dane"), parse: parseFinger, sni: func(tg clientTarget, tlsa bool) string {
			if tlsa {
				return tg.mx
			}
			return ""
		}},
		{name: "posttls-finger -l secure", argv: pf("secure"), parse: parseFinger, sni: noSNI},
	}
}

// parseSwaks: delivered (the reply to the message's final dot is 250,
// inside TLS: "<~"), delivered-plaintext ("<-") or failed, with swaks'
// first error line ("*** ...").
func parseSwaks(out string) (Side, clientSaw) {
	s := Side{Outcome: "failed"}
	saw := clientSaw{alert: -1, hello: !strings.Contains(out, "did not advertise STARTTLS"),
		handshake: strings.Contains(out, "=== TLS started")}
	if m := swaksAlertRE.FindStringSubmatch(out); m != nil {
		saw.alert = alertCode(m[1])
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, "***") && s.Status == "" {
			s.Status = Normalize(l)
		}
		if (l == " -> ." || l == " ~> .") && i+1 < len(lines) {
			switch next := lines[i+1]; {
			case strings.HasPrefix(next, "<~  250"):
				s.Outcome = "delivered"
			case strings.HasPrefix(next, "<-  250"):
				s.Outcome = "delivered-plaintext"
			}
		}
	}
	return s, saw
}

var (
	fingerTrustRE  = regexp.MustCompile(`(\w+) TLS connection established`)
	fingerVerifyRE = regexp.MustCompile(`verification failed for [^:]+:\d+: (.*)`)
	fingerAlertRE  = regexp.MustCompile(`(sslv3 alert [a-z ]+|SSL alert number \d+)`)
	alertNumberRE  = regexp.MustCompile(`SSL alert number (\d+)`)
	swaksAlertRE   = regexp.MustCompile(`(sslv3 alert [a-z ]+)`)
)

// parseFinger: the TLS line posttls-finger prints (Trusted, Untrusted,
// Verified, Anonymous TLS, with the reason a verification failed), or the
// SSL_connect error with its alert, or "no TLS" (with -c, nothing is
// printed when STARTTLS is not offered).
func parseFinger(out string) (Side, clientSaw) {
	var s Side
	saw := clientSaw{alert: -1, hello: true}
	if m := alertNumberRE.FindStringSubmatch(out); m != nil {
		saw.alert = alertCode(m[1])
	}
	if m := fingerTrustRE.FindStringSubmatch(out); m != nil {
		s.Outcome = m[1] + " TLS"
		if v := fingerVerifyRE.FindStringSubmatch(out); v != nil {
			s.Status = Normalize(strings.TrimSpace(v[1]))
		}
		saw.handshake = true
		return s, saw
	}
	if strings.Contains(out, "SSL_connect error") {
		s.Outcome = "SSL_connect error"
		s.Status = strings.Join(fingerAlertRE.FindAllString(out, -1), ", ")
		return s, saw
	}
	s.Outcome = "no TLS"
	saw.hello = false
	if l := strings.TrimSpace(out); l != "" {
		s.Status = Normalize(strings.SplitN(l, "\n", 2)[0])
	}
	return s, saw
}

// refusesSTARTTLS says whether a scenario answers STARTTLS with an error
// reply (a fault at starttls), from its knobs.
func refusesSTARTTLS(t *testing.T, scenario string) bool {
	t.Helper()
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := cat.Get(scenario)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sc.Faults {
		if f.At == scenarios.AtSTARTTLS && f.Do == scenarios.DoReply {
			return true
		}
	}
	return false
}

// clientRow is a row with what the client printed on each side.
type clientRow struct {
	realRow
	cs                clientSender
	tg                [2]clientTarget
	tlsa              bool
	argv              [2][]string
	labOut, realOut   string
	labCode, realCode int
	labSaw, realSaw   clientSaw
	// labStart and labEnd bound the run against the lab; records are
	// the lab's sessions of the scenario that started within them.
	labStart, labEnd time.Time
	records          []server.Record
	// recordDiffs is where the lab's record disagrees with the client.
	recordDiffs []string
	// refusesSTARTTLS: the scenario answers STARTTLS with an error (a
	// fault at starttls), so no handshake starts.
	refusesSTARTTLS bool
}

// runClientCells runs every client sender against the lab's scenario and
// the real site, in parallel (at most 6 at once, one at a time against a
// lab scenario, so that its sessions in a run's time window are that
// run's), each bounded in time, and checks the lab's record of each run
// against what the client saw.
func runClientCells(t *testing.T, w *world, sites []*realSite, zone string) []*clientRow {
	t.Helper()
	swaks := realpeer.Need(t, realpeer.Swaks)
	finger := realpeer.Need(t, realpeer.PosttlsFinger)
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	gnutls := realpeer.Need(t, realpeer.GnuTLSCli)
	mailConfig := t.TempDir()
	mainCF := "compatibility_level = 3.6\ninet_protocols = ipv4\nsmtp_dns_support_level = dnssec\nsmtp_host_lookup = dns\n"
	if err := os.WriteFile(filepath.Join(mailConfig, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	senders := append(clientSenders(swaks, finger, mailConfig, w.layout.CACert), tlsClientSenders(openssl, gnutls)...)
	var rows []*clientRow
	labLocks := map[string]*sync.Mutex{}
	for i, cs := range senders {
		for _, s := range sites {
			// The 2015 server only shows Postfix's anonymous TLS; the
			// dialect-only sendmail takes no mail.
			if s.known != "" || s.dialectOnly || cs.only != "" && cs.only != s.scenario {
				continue
			}
			site := labSite(t, w.layout, s.scenario)
			sub := fmt.Sprintf("c%d", i)
			lab := clientTarget{addr: site.SMTP, mx: site.MX, domain: sub + "." + site.Domain}
			real := clientTarget{addr: s.addr + ":25", mx: s.mx + "." + zone, domain: sub + "." + s.label + "." + zone}
			r := &clientRow{realRow: realRow{sender: cs.name, scenario: s.scenario, server: s.label, attempt: "-"},
				cs: cs, tg: [2]clientTarget{lab, real}, tlsa: s.tlsa != "", refusesSTARTTLS: refusesSTARTTLS(t, s.scenario)}
			if cs.run == nil {
				r.argv = [2][]string{cs.argv(lab), cs.argv(real)}
			} else {
				r.argv = [2][]string{goClientArgv(lab), goClientArgv(real)}
			}
			rows = append(rows, r)
			if labLocks[s.scenario] == nil {
				labLocks[s.scenario] = &sync.Mutex{}
			}
		}
	}
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for _, r := range rows {
		for side := 0; side < 2; side++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if side == 0 {
					mu := labLocks[r.scenario]
					mu.Lock()
					defer mu.Unlock()
				}
				sem <- struct{}{}
				defer func() { <-sem }()
				start := time.Now()
				var out string
				var code int
				if r.cs.run != nil {
					out, code = r.cs.run(w, r.tg[side])
				} else {
					stdout, stderr, c, err := w.command(r.cs.timeout(), "", r.argv[side]...)
					out, code = stdout+stderr, c
					if err != nil {
						out += "\n(" + err.Error() + ")"
					}
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Logf("slow client run: %s against %s (%s side): %s\n%s", r.sender, r.tg[side].addr, []string{"lab", "real"}[side],
						took.Round(time.Millisecond), out)
				}
				sd, saw := r.cs.parse(out)
				if side == 0 {
					r.lab, r.labOut, r.labCode, r.labSaw = sd, out, code, saw
					r.labStart, r.labEnd = start, time.Now()
				} else {
					r.real, r.realOut, r.realCode, r.realSaw = sd, out, code, saw
				}
			}()
		}
	}
	wg.Wait()
	// Records are written when a session ends, a little after the
	// client has gone: wait for every run to have one.
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := w.sessions(t)
		complete := true
		for _, r := range rows {
			r.records = nil
			for _, rec := range recs {
				if rec.Scenario == r.scenario && !rec.Started.Before(r.labStart) && !rec.Started.After(r.labEnd) {
					r.records = append(r.records, rec)
				}
			}
			complete = complete && len(r.records) > 0
		}
		if complete || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range rows {
		if r.cs.sendsMX && r.scenario == "sni-reject" {
			r.lab.Note, r.real.Note = sniNote, sniNote
		}
		r.diffs = sideDiffs(r.lab, r.real)
		r.recordDiffs = r.recordAgrees()
		r.diffs = append(r.diffs, r.recordDiffs...)
		if r.real.Outcome == "Anonymous TLS" && r.lab.Outcome != r.real.Outcome && strings.HasSuffix(r.lab.Outcome, " TLS") && r.lab.Outcome != "no TLS" {
			// The real OpenSSL server picks an anonymous suite the
			// client offers (below TLS 1.3); Go's crypto/tls has none.
			r.known = "anonymous TLS: the real server picks an anonymous suite the client offers; the lab (Go crypto/tls) completes with its certificate"
			r.diffs = r.recordDiffs
		}
	}
	return rows
}

// recordAgrees compares the lab's session record of the run against the
// lab with what the client saw: a ClientHello (with the SNI the client
// sends) when the lab accepted STARTTLS, alert_sent when the client
// received an alert (the same alert), tls when the handshake completed.
func (r *clientRow) recordAgrees() []string {
	if len(r.records) != 1 {
		var ids []string
		for _, rec := range r.records {
			ids = append(ids, rec.ID)
		}
		return []string{fmt.Sprintf("lab record: %d sessions of %s in the run's time window, want 1 %v", len(r.records), r.scenario, ids)}
	}
	rec, saw := r.records[0], r.labSaw
	var diffs []string
	switch {
	case !saw.hello && rec.ClientHello != nil:
		diffs = append(diffs, "lab record: a client_hello, but the client sent none")
	case saw.hello && rec.ClientHello == nil:
		// A client may send its ClientHello after a refused STARTTLS, as
		// s_client does; the lab, like the real server, reads it as a
		// command: no client_hello then.
		if !r.refusesSTARTTLS {
			diffs = append(diffs, "lab record: no client_hello, but the client started a handshake")
		}
	case saw.hello:
		want, got := r.cs.sni(r.tg[0], r.tlsa), ""
		if rec.ClientHello.SNI != nil {
			got = *rec.ClientHello.SNI
		}
		if got != want {
			diffs = append(diffs, fmt.Sprintf("lab record: client_hello.sni %q, the client sent %q", got, want))
		}
	}
	switch {
	case saw.alert >= 0 && rec.AlertSent == nil:
		diffs = append(diffs, fmt.Sprintf("lab record: no alert_sent, the client received alert %d", saw.alert))
	case saw.alert >= 0 && rec.AlertSent.Code != saw.alert:
		diffs = append(diffs, fmt.Sprintf("lab record: alert_sent %d, the client received alert %d", rec.AlertSent.Code, saw.alert))
	case saw.alert < 0 && rec.AlertSent != nil:
		diffs = append(diffs, fmt.Sprintf("lab record: alert_sent %d (%s), the client received none", rec.AlertSent.Code, rec.AlertSent.Name))
	}
	if saw.handshake != (rec.TLS != nil) {
		diffs = append(diffs, fmt.Sprintf("lab record: tls %v, the client's handshake completed: %v", rec.TLS != nil, saw.handshake))
	}
	return diffs
}

// labRecord summarises the lab's record of the run (for the table).
func (r *clientRow) labRecord() string {
	if len(r.records) != 1 {
		return fmt.Sprintf("%d records", len(r.records))
	}
	rec := r.records[0]
	parts := []string{"record " + rec.ID}
	if rec.ClientHello != nil {
		sni := "none"
		if rec.ClientHello.SNI != nil {
			sni = *rec.ClientHello.SNI
		}
		parts = append(parts, "sni "+sni)
	}
	if rec.AlertSent != nil {
		parts = append(parts, fmt.Sprintf("alert_sent %d", rec.AlertSent.Code))
	}
	if rec.TLS != nil {
		parts = append(parts, "tls "+rec.TLS.Version)
	}
	return strings.Join(parts, ", ")
}

// evidence is what the client printed on both sides.
func (r *clientRow) evidence() string {
	var b strings.Builder
	for i, side := range []struct {
		name, out string
		code      int
	}{{"lab", r.labOut, r.labCode}, {"real", r.realOut, r.realCode}} {
		fmt.Fprintf(&b, "  [%s] $ ip netns exec NS %s (exit %d)\n", side.name, strings.Join(r.argv[i], " "), side.code)
		if i == 0 {
			fmt.Fprintf(&b, "  [lab] record: %s\n", r.labRecord())
		}
		for _, l := range strings.Split(strings.TrimRight(side.out, "\n"), "\n") {
			fmt.Fprintf(&b, "    [%s] %s\n", side.name, l)
		}
	}
	return b.String()
}
