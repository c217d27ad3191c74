package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
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
	// parse turns what it printed into a row's side.
	parse func(out string) Side
	// only limits it to one scenario ("" for all).
	only string
}

// clientSenders are swaks (--tls-optional, --tls, and --tls with the MX
// name as SNI, the way Gmail connects) and posttls-finger at may, dane
// and secure (MAIL_CONFIG: a minimal main.cf, interop-recipe.md §8).
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
		{name: "swaks --tls-optional", argv: sw("--tls-optional"), parse: parseSwaks},
		{name: "swaks --tls", argv: sw("--tls"), parse: parseSwaks},
		{name: "swaks --tls --tls-sni MX", only: "sni-reject", parse: parseSwaks, argv: func(tg clientTarget) []string {
			return sw("--tls", "--tls-sni", tg.mx)(tg)
		}},
		{name: "posttls-finger -l may", argv: pf("may"), parse: parseFinger},
		{name: "posttls-finger -l dane", argv: pf("dane"), parse: parseFinger},
		{name: "posttls-finger -l secure", argv: pf("secure"), parse: parseFinger},
	}
}

// parseSwaks: delivered (the reply to the message's final dot is 250,
// inside TLS: "<~"), delivered-plaintext ("<-") or failed, with swaks'
// first error line ("*** ...").
func parseSwaks(out string) Side {
	s := Side{Outcome: "failed"}
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
	return s
}

var (
	fingerTrustRE  = regexp.MustCompile(`(\w+) TLS connection established`)
	fingerVerifyRE = regexp.MustCompile(`verification failed for [^:]+:\d+: (.*)`)
	fingerAlertRE  = regexp.MustCompile(`(sslv3 alert [a-z ]+|SSL alert number \d+)`)
)

// parseFinger: the TLS line posttls-finger prints (Trusted, Untrusted,
// Verified, Anonymous TLS, with the reason a verification failed), or the
// SSL_connect error with its alert, or "no TLS" (with -c, nothing is
// printed when STARTTLS is not offered).
func parseFinger(out string) Side {
	var s Side
	if m := fingerTrustRE.FindStringSubmatch(out); m != nil {
		s.Outcome = m[1] + " TLS"
		if v := fingerVerifyRE.FindStringSubmatch(out); v != nil {
			s.Status = Normalize(strings.TrimSpace(v[1]))
		}
		return s
	}
	if strings.Contains(out, "SSL_connect error") {
		s.Outcome = "SSL_connect error"
		s.Status = strings.Join(fingerAlertRE.FindAllString(out, -1), ", ")
		return s
	}
	s.Outcome = "no TLS"
	if l := strings.TrimSpace(out); l != "" {
		s.Status = Normalize(strings.SplitN(l, "\n", 2)[0])
	}
	return s
}

// clientRow is a row with what the client printed on each side.
type clientRow struct {
	realRow
	argv              [2][]string
	parse             func(out string) Side
	labOut, realOut   string
	labCode, realCode int
}

// runClientCells runs every client sender against the lab's scenario and
// the real site, in parallel (at most 4 commands at once), each bounded
// in time.
func runClientCells(t *testing.T, w *world, sites []*realSite, zone string) []*clientRow {
	t.Helper()
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		skipOrFail(t, "interop: swaks is not installed", "apt-get install -y swaks libnet-ssleay-perl")
	}
	finger, err := exec.LookPath("posttls-finger")
	if err != nil {
		skipOrFail(t, "interop: posttls-finger is not installed", installHint)
	}
	mailConfig := t.TempDir()
	mainCF := "compatibility_level = 3.6\ninet_protocols = ipv4\nsmtp_dns_support_level = dnssec\nsmtp_host_lookup = dns\n"
	if err := os.WriteFile(filepath.Join(mailConfig, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	var rows []*clientRow
	for i, cs := range clientSenders(swaks, finger, mailConfig, w.layout.CACert) {
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
			rows = append(rows, &clientRow{realRow: realRow{sender: cs.name, scenario: s.scenario, server: s.label, attempt: "-"},
				argv: [2][]string{cs.argv(lab), cs.argv(real)}, parse: cs.parse})
		}
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, r := range rows {
		for side := 0; side < 2; side++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				stdout, stderr, code, err := w.command(60*time.Second, "", r.argv[side]...)
				out := stdout + stderr
				if err != nil {
					out += "\n(" + err.Error() + ")"
				}
				sd := r.parse(out)
				if side == 0 {
					r.lab, r.labOut, r.labCode = sd, out, code
				} else {
					r.real, r.realOut, r.realCode = sd, out, code
				}
			}()
		}
	}
	wg.Wait()
	for _, r := range rows {
		r.diffs = sideDiffs(r.lab, r.real)
	}
	return rows
}

// evidence is what the client printed on both sides.
func (r *clientRow) evidence() string {
	var b strings.Builder
	for i, side := range []struct {
		name, out string
		code      int
	}{{"lab", r.labOut, r.labCode}, {"real", r.realOut, r.realCode}} {
		fmt.Fprintf(&b, "  [%s] $ ip netns exec NS %s (exit %d)\n", side.name, strings.Join(r.argv[i], " "), side.code)
		for _, l := range strings.Split(strings.TrimRight(side.out, "\n"), "\n") {
			fmt.Fprintf(&b, "    [%s] %s\n", side.name, l)
		}
	}
	return b.String()
}
