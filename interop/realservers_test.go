package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
)

// realSite is a real server with a scenario's misconfiguration, beside
// the lab in the same namespace, with its own names in the lab's zone:
// <label>.mxlab.test (and every name below it) has MX mx, which has an A
// record addr and, where the scenario publishes one, a TLSA record.
type realSite struct {
	// scenario is the lab scenario it is compared with.
	scenario string
	// label is its domain's first label (real-<scenario>).
	label string
	// mx is the MX host name, relative to the zone.
	mx string
	// addr is its address; the server listens on addr:25.
	addr string
	// server says what runs there.
	server string
	// levels are the Postfix levels run against it (nil: all).
	levels []string
	// known, when set, is the known difference this site shows on
	// purpose: the real outcome is expected to differ from the lab's.
	known string
	// tlsa is the TLSA 3 1 1 RDATA published for it ("" for none).
	tlsa string
	// front says the dialect before STARTTLS is the test's own front,
	// not the real server's: it is shown, not compared.
	front bool
	// certFile and keyFile are its certificate (Postfix smtpd, sendmail).
	certFile, keyFile string
	// exim runs Debian's Exim there; host is its own name (the
	// certificate's), below the MX's domain.
	exim bool
	host string
	// sendmail runs sendmail there: "nostarttls" (srv_features S) or
	// "nocert" (STARTTLS on, no certificate).
	sendmail string
	// probeErrors: send unknown commands until the server closes, to
	// compare the error limit and its replies (one site per server).
	probeErrors bool
	// smtpd are more Postfix smtpd settings (master.cf -o name=value).
	smtpd []string
	// brokenKey gives smtpd a key file that does not exist.
	brokenKey bool
	// dialectOnly sites are only probed before TLS, never delivered to;
	// knownDialect is the difference they show on purpose.
	dialectOnly  bool
	knownDialect string
}

func (s *realSite) runs(level string) bool {
	return s.levels == nil || slices.Contains(s.levels, level)
}

// records are its DNS records for `mxlab serve --record`.
func (s *realSite) records(zone string) []string {
	mx := s.mx + "." + zone + "."
	r := []string{
		s.label + " MX 10 " + mx,
		"*." + s.label + " MX 10 " + mx,
		s.mx + " A " + s.addr,
	}
	if s.host != "" {
		r = append(r, s.host+" A "+s.addr)
	}
	if s.tlsa != "" {
		r = append(r, "_25._tcp."+s.mx+" TLSA 3 1 1 "+s.tlsa)
	}
	return r
}

// realCell is one Postfix level × real site, with a recipient domain of
// its own below the lab scenario's domain and below the real site's.
type realCell struct {
	level      string
	site       *realSite
	labDomain  string
	realDomain string
	lab, real  []Delivery
}

func (c *realCell) labRcpt() string  { return "rcpt@" + c.labDomain }
func (c *realCell) realRcpt() string { return "rcpt@" + c.realDomain }

// firstRetry splits a recipient's attempts, numbered by the order of
// their status= lines (Attempts): the first, and the retry triggered
// after it (postfixInstance.retry), either nil. Every first attempt is
// logged before the retry is triggered, and the first phase's backoff
// gives no message a second attempt of its own.
func firstRetry(ds []Delivery) (first, retry *Delivery) {
	switch len(ds) {
	case 0:
		return nil, nil
	case 1:
		return &ds[0], nil
	}
	return &ds[0], &ds[1]
}

// wantsRetry: a first attempt deferred at may is retried, in plaintext
// once the message is minimal_backoff_time old (docs/interop-recipe.md §6a).
func (c *realCell) wantsRetry(ds []Delivery) bool {
	f, _ := firstRetry(ds)
	return c.level == "may" && f != nil && f.Status == "deferred" && c.site.known == ""
}

func (c *realCell) complete() bool {
	for _, ds := range [][]Delivery{c.lab, c.real} {
		f, r := firstRetry(ds)
		if f == nil || c.wantsRetry(ds) && r == nil {
			return false
		}
	}
	return true
}

// realRow is one line of the table: one attempt of one cell.
type realRow struct {
	sender, scenario, server, attempt string
	lab, real                         Side
	diffs                             []string
	known                             string
}

// attemptSide is what Postfix did on one attempt: outcome, the status
// (normalised; for a delivery through the test's own front only the DSN
// and status word: the 250 text is the front's) and the TLS trust word.
func attemptSide(d *Delivery, front bool) Side {
	if d == nil {
		return Side{Outcome: "(no attempt logged)"}
	}
	s := observedSide(d, nil)
	if d.Status == "sent" && !front {
		s.Status = d.StatusText()
	}
	s.Status = Normalize(sendmailQIDRE.ReplaceAllString(s.Status, "${1}QID$2"))
	s.Note = "TLS " + orNone(d.TLS)
	return s
}

// sendmailQIDRE is sendmail's queue id in its reply to the message.
var sendmailQIDRE = regexp.MustCompile(`(250 2\.0\.0 )[0-9A-Za-z]{14}( Message accepted)`)

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sideDiffs(lab, real Side) []string {
	var diffs []string
	if lab.Outcome != real.Outcome {
		diffs = append(diffs, fmt.Sprintf("outcome %s ≠ %s", lab.Outcome, real.Outcome))
	}
	if lab.Status != real.Status {
		diffs = append(diffs, fmt.Sprintf("status %q ≠ %q", lab.Status, real.Status))
	}
	if lab.Note != real.Note {
		diffs = append(diffs, fmt.Sprintf("%s ≠ %s", lab.Note, real.Note))
	}
	return diffs
}

// TestFidelityRealServers runs, beside the lab in its namespace, a real
// server with each MX scenario's misconfiguration (its incident's
// software where it can be run), and delivers to both with the same
// real sender: Postfix at may, encrypt, dane and verify. A cell is
// faithful when Postfix's outcome, status text (normalised) and TLS
// trust are the same against the lab as against the real server. It
// also compares what each says before TLS (banner, EHLO, the reply to
// STARTTLS). One difference is shown on purpose: the 2015 sendmail
// without a certificate (openssl s_server -nocert with anonymous suites)
// negotiates anonymous TLS with Postfix at may, which the lab (Go's
// crypto/tls, no anonymous suites) cannot.
//
// The certificate scenarios (expired-cert, wrong-name-cert, no-chain,
// untrusted-root) are compared with Postfix's smtpd serving a
// certificate from the scenario's own spec (lab.LeafSpec); tls10-only
// with smtpd_tls_protocols = !TLSv1.2, !TLSv1.3 (a second known
// difference: below TLS 1.3 that smtpd picks an anonymous suite where
// the client offers one); require-tls with smtpd_tls_security_level =
// encrypt; starttls-454 with a key file smtpd cannot read.
//
// sni-reject's real server is Debian's Exim 4.96 (GnuTLS) behind the
// incident's MX name, _dc-mx.<hex>.real-sni-reject, with a certificate
// for its own name (MXLAB_SKIP_EXIM=1 leaves it out). Besides Postfix,
// swaks (--tls-optional, --tls) and posttls-finger (-l may, dane,
// secure) are run against every scenario's two servers, and swaks with
// the MX name as SNI against sni-reject's: the incident, alert 47 from
// the lab and from the real Exim. So are openssl s_client, gnutls-cli and
// Go's crypto/tls, which always send the MX name as SNI (alert 47 from
// both sides at sni-reject). Every client run against the lab is also
// checked against the lab's session record of it (ClientHello and SNI,
// alert_sent, tls).
func TestFidelityRealServers(t *testing.T) {
	realpeer.Enabled(t)
	began := time.Now()
	tools := needPostfix(t)
	openssl := realpeer.Need(t, realpeer.OpenSSL)

	const zone = "mxlab.test"
	sites := []*realSite{
		{scenario: "baseline", label: "real-baseline", mx: "mx.real-baseline", addr: "127.0.2.1", probeErrors: true,
			server: "Postfix smtpd, CA-signed certificate, matching TLSA 3 1 1"},
		{scenario: "self-signed", label: "real-self-signed", mx: "mx.real-self-signed", addr: "127.0.2.2",
			server: "Postfix smtpd, self-signed certificate"},
		{scenario: "tlsa-mismatch", label: "real-tlsa-mismatch", mx: "mx.real-tlsa-mismatch", addr: "127.0.2.3",
			server: "Postfix smtpd, CA-signed certificate, TLSA 3 1 1 of another key"},
		{scenario: "no-shared-cipher", label: "real-no-shared-cipher", mx: "mx.real-no-shared-cipher", addr: "127.0.2.4",
			server: "openssl s_server -nocert (OpenSSL 3 defaults) behind a plaintext STARTTLS front", front: true},
		{scenario: "no-shared-cipher", label: "real-no-shared-cipher-2015", mx: "mx.real-no-shared-cipher-2015", addr: "127.0.2.5",
			server: "openssl s_server -nocert -cipher 'aNULL:@SECLEVEL=0' (the 2015 sendmail) behind a plaintext STARTTLS front",
			front:  true, levels: []string{"may"},
			known: "anonymous TLS: the 2015 server negotiates an anonymous suite with Postfix at may; the lab (Go crypto/tls) has none and sends alert 40"},
		// Postfix smtpd with each certificate scenario's certificate,
		// issued by the lab's own spec (lab.LeafSpec).
		{scenario: "expired-cert", label: "real-expired-cert", mx: "mx.real-expired-cert", addr: "127.0.2.9",
			server: "Postfix smtpd, lab-CA certificate that expired 30 days ago, matching TLSA 3 1 1"},
		{scenario: "wrong-name-cert", label: "real-wrong-name-cert", mx: "mx.real-wrong-name-cert", addr: "127.0.2.10",
			server: "Postfix smtpd, lab-CA certificate for www.<domain> and <domain>, matching TLSA 3 1 1"},
		{scenario: "no-chain", label: "real-no-chain", mx: "mx.real-no-chain", addr: "127.0.2.11",
			server: "Postfix smtpd, certificate from the lab intermediate, served without it"},
		{scenario: "untrusted-root", label: "real-untrusted-root", mx: "mx.real-untrusted-root", addr: "127.0.2.12",
			server: "Postfix smtpd, certificate from a CA nobody trusts"},
		{scenario: "tls10-only", label: "real-tls10-only", mx: "mx.real-tls10-only", addr: "127.0.2.13", levels: []string{"verify"},
			server: "Postfix smtpd, smtpd_tls_protocols = !TLSv1.2, !TLSv1.3", smtpd: []string{"smtpd_tls_protocols=!TLSv1.2,!TLSv1.3"}},
		{scenario: "tls10-only", label: "real-tls10-only-anon", mx: "mx.real-tls10-only-anon", addr: "127.0.2.16", levels: []string{"may", "encrypt", "dane"},
			server: "Postfix smtpd, smtpd_tls_protocols = !TLSv1.2, !TLSv1.3", smtpd: []string{"smtpd_tls_protocols=!TLSv1.2,!TLSv1.3"},
			known: "anonymous TLS: below TLS 1.3 Postfix's smtpd picks an anonymous suite that Postfix's client offers at may, encrypt and dane; the lab (Go crypto/tls) has none and completes with its certificate: delivered either way, the trust word differs"},
		{scenario: "require-tls", label: "real-require-tls", mx: "mx.real-require-tls", addr: "127.0.2.14",
			server: "Postfix smtpd, smtpd_tls_security_level = encrypt", smtpd: []string{"smtpd_tls_security_level=encrypt"}},
		{scenario: "starttls-454", label: "real-starttls-454", mx: "mx.real-starttls-454", addr: "127.0.2.15",
			server: "Postfix smtpd whose key file is missing (TLS cannot start)", brokenKey: true},
	}
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var smRoot string
	if os.Getenv("MXLAB_SKIP_SENDMAIL") != "1" {
		smRoot = unpackSendmail(t)
		sites = append(sites,
			&realSite{scenario: "no-starttls", label: "real-no-starttls", mx: "mx.real-no-starttls", addr: "127.0.2.6",
				server: "sendmail 8.17.1.9 (Debian), Srv_Features S", sendmail: "nostarttls", probeErrors: true},
			&realSite{scenario: "no-shared-cipher", label: "real-no-shared-cipher-sendmail", mx: "mx.real-no-shared-cipher-sendmail", addr: "127.0.2.7",
				server: "sendmail 8.17.1.9 (Debian), STARTTLS configured, no certificate", sendmail: "nocert", dialectOnly: true,
				knownDialect: "today's sendmail does not offer STARTTLS without a certificate (and answers 454 4.3.3 to it); the lab shows the 2015 behaviour, STARTTLS offered"})
	}
	var eximRoot string
	if os.Getenv("MXLAB_SKIP_EXIM") != "1" {
		eximRoot = unpackDebs(t, eximPkgs...)
		// The incident's shape: the DNS provider's MX name, an origin
		// with a certificate for its own name, no TLSA.
		sites = append(sites, &realSite{scenario: "sni-reject", label: "real-sni-reject", mx: "_dc-mx.5e1f0c2a9b7d.real-sni-reject",
			host: "mail.real-sni-reject", addr: "127.0.2.8", exim: true, probeErrors: true,
			server: "Exim 4.96 (Debian exim4-daemon-light, GnuTLS), certificate for mail.real-sni-reject, MX _dc-mx.…, no TLSA"})
	}
	w := newWorldWith(t, func(state string) []string {
		store, err := certs.Open(filepath.Join(state, "pki"), time.Now)
		if err != nil {
			t.Fatalf("interop: lab PKI: %v", err)
		}
		var records []string
		for _, s := range sites {
			fqdn := s.mx + "." + zone
			var leaf, tlsaLeaf *certs.Leaf
			sc, err := cat.Get(s.scenario)
			if err != nil {
				t.Fatal(err)
			}
			host := fqdn
			if s.host != "" {
				host = s.host + "." + zone
			}
			domain := s.label + "." + zone
			if spec, ok := lab.LeafSpec(sc, s.label, fqdn, host, domain); ok && !s.front && s.sendmail != "nocert" {
				leaf = issue(t, store, spec)
			}
			switch sc.DNS.TLSA {
			case scenarios.TLSACurrent:
				tlsaLeaf = leaf
			case scenarios.TLSAPrevious:
				tlsaLeaf = issue(t, store, lab.PreviousLeafSpec(sc, s.label, fqdn, host, domain))
			}
			if leaf != nil {
				s.certFile, s.keyFile = leaf.CertPath, leaf.KeyPath
				if s.brokenKey {
					s.keyFile = leaf.KeyPath + ".missing"
				}
			}
			if tlsaLeaf != nil {
				rr, err := certs.NewTLSA(tlsaLeaf.Cert, 3, 1, 1)
				if err != nil {
					t.Fatal(err)
				}
				s.tlsa = rr.Data
			}
			records = append(records, s.records(zone)...)
		}
		return records
	})
	if w.layout.Zone != zone {
		t.Fatalf("interop: the lab's zone is %s, not %s", w.layout.Zone, zone)
	}
	t.Logf("lab up in namespace %s after %s (Postfix %s)", w.ns, time.Since(began).Round(time.Millisecond), tools.version)

	// The real servers.
	var smtpds []smtpdListener
	for _, s := range sites {
		if s.certFile != "" && s.sendmail == "" && !s.exim {
			smtpds = append(smtpds, smtpdListener{addr: s.addr, host: s.mx + "." + zone, certFile: s.certFile, keyFile: s.keyFile, opts: s.smtpd})
		}
	}
	receiver := startReceiver(t, w, tools, smtpds)
	for _, s := range sites {
		if !s.front {
			continue
		}
		tlsAddr := s.addr + ":2525"
		var extra []string
		if s.known != "" {
			extra = []string{"-cipher", "aNULL:@SECLEVEL=0"}
		}
		w.startOpenSSLServer(t, openssl, tlsAddr, s.mx+"."+zone, extra...)
		w.startTLSFront(t, s.addr+":25", tlsAddr, s.mx+"."+zone)
	}
	for _, s := range sites {
		switch s.sendmail {
		case "nostarttls":
			startSendmail(t, w, smRoot, sendmailServer{addr: s.addr, host: s.mx + "." + zone, certFile: s.certFile, keyFile: s.keyFile, noStartTLS: true})
		case "nocert":
			startSendmail(t, w, smRoot, sendmailServer{addr: s.addr, host: s.mx + "." + zone})
		}
	}
	eximLogs := map[string]string{}
	for _, s := range sites {
		if s.exim {
			eximLogs[s.label] = startExim(t, w, eximRoot, eximServer{addr: s.addr, host: s.host + "." + zone,
				domains:  []string{s.host + "." + zone, s.label + "." + zone, "*." + s.label + "." + zone},
				certFile: s.certFile, keyFile: s.keyFile})
		}
	}
	t.Logf("real servers up after %s", time.Since(began).Round(time.Millisecond))

	// The lab and the real sites must publish the same kind of TLSA.
	for _, s := range sites {
		site := labSite(t, w.layout, s.scenario)
		if (len(site.TLSA) > 0) != (s.tlsa != "") {
			t.Errorf("interop: %s publishes %d TLSA records, %s %q", s.scenario, len(site.TLSA), s.label, s.tlsa)
		}
	}

	// Before TLS: banner, EHLO and the reply to STARTTLS.
	type dialectRow struct {
		site      *realSite
		lab, real dialect
		diffs     []string
		known     string
	}
	var dialects []dialectRow
	for _, s := range sites {
		if s.known != "" {
			continue
		}
		r := dialectRow{site: s, lab: w.probeDialect(labSite(t, w.layout, s.scenario).SMTP), real: w.probeDialect(s.addr + ":25")}
		if s.probeErrors {
			r.lab.Errors, r.real.Errors = w.probeErrors(labSite(t, w.layout, s.scenario).SMTP), w.probeErrors(s.addr+":25")
		}
		if !s.front {
			r.diffs = dialectDiffs(r.lab, r.real)
		}
		if s.knownDialect != "" && noStartTLSOffered(r.lab, r.real) {
			// Known: STARTTLS; what else differs is not.
			r.known = s.knownDialect
			lab := r.lab
			lab.EHLO = withoutStartTLS(lab.EHLO)
			lab.STARTTLS = r.real.STARTTLS
			if rest := dialectDiffs(lab, r.real); len(rest) > 0 {
				r.known = ""
				r.diffs = rest
			}
		}
		dialects = append(dialects, r)
	}

	// Deliveries: one Postfix run per level, the lab's cells and the
	// real servers' together.
	var cells []*realCell
	for _, level := range levels {
		for _, s := range sites {
			if !s.runs(level) || s.dialectOnly {
				continue
			}
			labDomain := level + "." + labSite(t, w.layout, s.scenario).Domain
			if s.known != "" {
				labDomain = "known-" + labDomain
			}
			cells = append(cells, &realCell{level: level, site: s, labDomain: labDomain, realDomain: level + "." + s.label + "." + zone})
		}
	}
	pf := newPostfix(t, w, tools)
	runs := map[string]postfixRun{}
	for _, level := range levels {
		var lc []*realCell
		policy := map[string]string{}
		var rcpts []string
		for _, c := range cells {
			if c.level == level {
				lc = append(lc, c)
				policy[c.labDomain], policy[c.realDomain] = level, level
				rcpts = append(rcpts, c.labRcpt(), c.realRcpt())
			}
		}
		assign := func(ds []Delivery) {
			for _, c := range lc {
				c.lab, c.real = Attempts(ds, c.labRcpt()), Attempts(ds, c.realRcpt())
			}
		}
		r := pf.deliver(t, "real-"+level, policy, rcpts, func(ds []Delivery) bool {
			assign(ds)
			for _, c := range lc {
				if !c.complete() {
					return false
				}
			}
			return true
		})
		assign(r.deliveries)
		runs[level] = r
		t.Logf("level %s: %d attempts logged in %s", level, len(r.deliveries), r.end.Sub(r.start).Round(time.Millisecond))
	}

	// The table.
	var rows []realRow
	for _, c := range cells {
		lf, lr := firstRetry(c.lab)
		rf, rr := firstRetry(c.real)
		row := realRow{sender: "postfix-" + c.level, scenario: c.site.scenario, server: c.site.label, attempt: "first",
			lab: attemptSide(lf, false), real: attemptSide(rf, c.site.front), known: c.site.known}
		row.lab.Status = maybeShort(row.lab, c.site.front)
		row.diffs = sideDiffs(row.lab, row.real)
		rows = append(rows, row)
		if c.wantsRetry(c.lab) || c.wantsRetry(c.real) {
			row := realRow{sender: "postfix-" + c.level, scenario: c.site.scenario, server: c.site.label, attempt: "retry",
				lab: attemptSide(lr, false), real: attemptSide(rr, c.site.front)}
			row.lab.Status = maybeShort(row.lab, c.site.front)
			row.diffs = sideDiffs(row.lab, row.real)
			rows = append(rows, row)
		}
	}
	// Real clients: swaks and posttls-finger against both sides.
	cbegan := time.Now()
	clients := runClientCells(t, w, sites, zone)
	t.Logf("client senders: %d cells in %s", len(clients), time.Since(cbegan).Round(time.Millisecond))
	for _, c := range clients {
		rows = append(rows, c.realRow)
	}
	md := realMarkdown(rows)
	var db strings.Builder
	db.WriteString("| scenario | real server | lab (before TLS) | real server (before TLS) | match |\n|---|---|---|---|---|\n")
	dmatch := 0
	for _, d := range dialects {
		m := "yes"
		switch {
		case d.site.front:
			m = "not compared: the test's own front"
		case d.known != "":
			m = "known difference: " + strings.Join(d.diffs, "; ") + " (" + d.known + ")"
		case len(d.diffs) > 0:
			m = "**no**: " + strings.Join(d.diffs, "; ")
		default:
			dmatch++
		}
		fmt.Fprintf(&db, "| %s | %s: %s | %s | %s | %s |\n", d.site.scenario, d.site.label, cellText(d.site.server),
			cellText(d.lab.String()), cellText(d.real.String()), cellText(m))
	}
	compared := 0
	for _, d := range dialects {
		if !d.site.front {
			compared++
		}
	}
	fmt.Fprintf(&db, "\n**%d of %d compared dialects match** (a known difference counts as not matching).\n", dmatch, compared)

	header := fmt.Sprintf("## The lab against real servers\n\nReal senders, Postfix %s (Debian) at each level, swaks (outcome: delivered, delivered-plaintext or failed, with its error line), posttls-finger (the TLS line it prints, or the SSL_connect error and its alert) and three TLS clients sending the MX name as SNI without verifying (openssl s_client, gnutls-cli, Go crypto/tls: whether the handshake completed, or the alert; no cipher or certificate details), each run against each lab scenario and against a real server with the same misconfiguration (attempt \"-\": one run); whole test %s.\n\n",
		tools.version, time.Since(began).Round(100*time.Millisecond))
	report := header + md + "\n### Before TLS (banner, EHLO, reply to STARTTLS; normalised)\n\n" + db.String()
	t.Logf("fidelity against real servers:\n\n%s", report)
	if path := os.Getenv("MXLAB_FIDELITY_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString("\n" + report)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Errorf("interop: MXLAB_FIDELITY_REPORT: %v", err)
		}
	}

	for _, c := range clients {
		if len(c.diffs) > 0 {
			t.Errorf("%s × %s (%s) differs: %s\n  against the lab:  %s\n  against the real server: %s\n%s",
				c.sender, c.scenario, c.server, strings.Join(c.diffs, "; "), c.lab, c.real, c.evidence())
		}
		// The incident: a client that sends the _dc-mx MX name as SNI
		// gets fatal alert 47 from the real Exim (GnuTLS) and the lab.
		if c.cs.sendsMX && c.scenario == "sni-reject" && (c.labSaw.alert != 47 || c.realSaw.alert != 47) {
			t.Errorf("%s × %s: %s; got alert %d from the lab and %d from %s\n%s",
				c.sender, c.scenario, sniNote, c.labSaw.alert, c.realSaw.alert, c.server, c.evidence())
		}
		if strings.Contains(c.sender, "--tls-sni") {
			for _, sd := range []Side{c.lab, c.real} {
				if sd.Outcome != "failed" || !strings.Contains(sd.Status, "alert illegal parameter") {
					t.Errorf("%s × %s: want failed with alert 47 (illegal parameter) against the lab and %s, got lab %q, real %q\n%s",
						c.sender, c.scenario, c.server, c.lab, c.real, c.evidence())
					break
				}
			}
		}
	}
	for _, r := range rows {
		if r.attempt == "-" {
			continue // a client row, checked above
		}
		switch {
		case r.known != "":
			if !knownAnonymous(r) {
				t.Errorf("%s × %s (%s): the known difference did not show as expected (%s)\n  against the lab:  %s\n  against the real server: %s",
					r.sender, r.scenario, r.server, r.known, r.lab, r.real)
			}
		case len(r.diffs) > 0:
			c := findRealCell(cells, r)
			t.Errorf("%s × %s (%s attempt) differs: %s\n  against the lab (%s):  %s\n  against the real server (%s, %s): %s\n%s",
				r.sender, r.scenario, r.attempt, strings.Join(r.diffs, "; "), c.labDomain, r.lab, r.server, c.site.server, r.real,
				realEvidence(c, runs[c.level].log))
		}
	}
	for _, d := range dialects {
		if len(d.diffs) > 0 && d.known == "" {
			t.Errorf("%s: before TLS the lab and %s differ:\n  lab:  %s\n  real: %s", d.site.scenario, d.site.server, d.lab, d.real)
		}
	}
	if t.Failed() {
		if data, err := os.ReadFile(receiverLog(receiver)); err == nil {
			t.Logf("receiving Postfix's log:\n%s", data)
		}
	}
}

// noStartTLSOffered is the known difference of sendmail without a
// certificate: the same banner, the same EHLO reply but for STARTTLS,
// and 454 4.3.3 to STARTTLS (docs/real-peers.md §4).
func noStartTLSOffered(lab, real dialect) bool {
	return slices.Contains(lab.EHLO, "250-STARTTLS") && !slices.Contains(withoutStartTLS(real.EHLO), "250-STARTTLS") &&
		slices.Equal(real.STARTTLS, []string{"454 4.3.3 TLS not available after start"})
}

func withoutStartTLS(ehlo []string) []string {
	var out []string
	for _, l := range ehlo {
		if !strings.HasSuffix(l, "STARTTLS") {
			out = append(out, l)
		}
	}
	return out
}

// maybeShort keeps only the DSN and status word of the lab's delivery
// when the real side went through the test's own front.
func maybeShort(s Side, front bool) string {
	if !front || !isDelivered(s.Outcome) {
		return s.Status
	}
	st, ok := ParseStatus(s.Status)
	if !ok {
		return s.Status
	}
	st.Text = ""
	return st.String()
}

// knownAnonymous is the expected shape of the known difference: the lab
// defers with a handshake failure (alert 40), the 2015 server delivers
// over anonymous TLS.
func knownAnonymous(r realRow) bool {
	if !isDelivered(r.real.Outcome) || r.real.Note != "TLS Anonymous" {
		return false
	}
	// The 2015 sendmail: the lab (no certificate, no anonymous suite)
	// refuses; a TLS 1.1 Postfix: the lab completes with its certificate
	// and the delivery is the same.
	return r.lab.Outcome == "deferred" && strings.Contains(r.lab.Status, "handshake failure") ||
		r.lab.Outcome == r.real.Outcome && r.lab.Status == r.real.Status && r.lab.Note != r.real.Note
}

func issue(t *testing.T, store *certs.Store, spec certs.LeafSpec) *certs.Leaf {
	t.Helper()
	leaf, err := store.Leaf(spec)
	if err != nil {
		t.Fatalf("interop: certificate %s: %v", spec.Name, err)
	}
	return leaf
}

func labSite(t *testing.T, l *lab.Layout, name string) *lab.Site {
	t.Helper()
	s, err := l.Site(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func findRealCell(cells []*realCell, r realRow) *realCell {
	for _, c := range cells {
		if "postfix-"+c.level == r.sender && c.site.label == r.server {
			return c
		}
	}
	return nil
}

// realEvidence is Postfix's log for a cell's two recipients.
func realEvidence(c *realCell, log string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  Postfix maillog (%s):\n", log)
	for _, side := range []struct {
		name string
		ds   []Delivery
	}{{"lab", c.lab}, {"real", c.real}} {
		for _, d := range side.ds {
			for _, l := range d.Log {
				fmt.Fprintf(&b, "    [%s] %s\n", side.name, l)
			}
		}
	}
	return b.String()
}

// realMarkdown renders the rows with the count of matching cells.
func realMarkdown(rows []realRow) string {
	var b strings.Builder
	b.WriteString("| sender | scenario | real server | attempt | against the lab | against the real server | match |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	matching := 0
	for _, r := range rows {
		m := "yes"
		switch {
		case r.known != "":
			m = "known difference: " + r.known
			if len(r.diffs) == 0 {
				m = "yes (the known difference did not show)"
				matching++
			}
		case len(r.diffs) == 0:
			matching++
		default:
			m = "**no**: " + strings.Join(r.diffs, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.sender, r.scenario, r.server, r.attempt,
			cellText(r.lab.String()), cellText(r.real.String()), cellText(m))
	}
	fmt.Fprintf(&b, "\n**%d of %d cells match** (the known difference counts as not matching).\n", matching, len(rows))
	return b.String()
}
