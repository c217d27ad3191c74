package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsrpt"
)

// stsTestScenarios are policy-host faults no built-in scenario has, as a
// user writes them: the policy host's own certificate from the untrusted
// CA, and a policy host nobody listens for; the first also asks for
// reports by mail.
var stsTestScenarios = []map[string]any{
	{
		"name": "sts-policy-bad-cert", "summary": "the policy host's certificate is from an untrusted CA", "imitates": "postfix",
		"mta_sts": map[string]any{"mode": "enforce", "policy": "bad-cert", "mx": []string{"{mx}", "*.{domain}"}},
		"tls_rpt": []string{"https", "mailto"},
	},
	{
		"name": "sts-no-policy-host", "summary": "the TXT record is published, nothing listens", "imitates": "postfix",
		"mta_sts": map[string]any{"mode": "testing", "policy": "no-policy-host", "id": "abc123", "max_age": 604800},
	},
}

// stsNames are the scenarios the MTA-STS tests run: the built-in four,
// the two above, and baseline, which has neither record.
var stsNames = []string{"baseline", "mta-sts-mismatch", "mta-sts-testing", "mta-sts-bad-cert", "mta-sts-fetch-fail", "sts-policy-bad-cert", "sts-no-policy-host"}

// startSTS starts a lab with stsNames in the one-port-per-scenario layout
// on ephemeral ports; messages, when set, is its message store.
func startSTS(t *testing.T, reports *tlsrpt.Store, messages *msgstore.Store) *Lab {
	t.Helper()
	cat, err := scenarios.Load(nil, stsTestScenarios, "mtasts_test.go")
	if err != nil {
		t.Fatal(err)
	}
	return startTest(t, warmDir(t), func(c *Config) {
		c.Catalogue, c.Scenarios, c.TLSRPT, c.Messages = cat, stsNames, reports, messages
	})
}

// stsWant is what the lab publishes and serves for one scenario.
type stsWant struct {
	txt    string // _mta-sts TXT, "" for none
	rpt    string // _smtp._tls TXT, "" for none
	policy string // the policy file, "" when none is served
}

func stsWants(zone string) map[string]stsWant {
	https := "v=TLSRPTv1; rua=https://tlsrpt." + zone + "/v1/report"
	d := func(name string) string { return name + "." + zone }
	return map[string]stsWant{
		"baseline": {},
		"mta-sts-mismatch": {txt: "v=STSv1; id=20261202", rpt: https,
			policy: "version: STSv1\r\nmode: enforce\r\nmx: mail." + d("mta-sts-mismatch") + "\r\nmax_age: 86400\r\n"},
		"mta-sts-testing": {txt: "v=STSv1; id=20261202", rpt: https,
			policy: "version: STSv1\r\nmode: testing\r\nmx: mail." + d("mta-sts-testing") + "\r\nmax_age: 86400\r\n"},
		"mta-sts-bad-cert": {txt: "v=STSv1; id=20261202", rpt: https,
			policy: "version: STSv1\r\nmode: enforce\r\nmx: mx." + d("mta-sts-bad-cert") + "\r\nmax_age: 86400\r\n"},
		"mta-sts-fetch-fail": {txt: "v=STSv1; id=20261202", rpt: https},
		"sts-policy-bad-cert": {txt: "v=STSv1; id=1", rpt: https + ",mailto:tlsrpt@tlsrpt." + zone,
			policy: "version: STSv1\r\nmode: enforce\r\nmx: mx." + d("sts-policy-bad-cert") + "\r\nmx: *." + d("sts-policy-bad-cert") + "\r\nmax_age: 86400\r\n"},
		"sts-no-policy-host": {txt: "v=STSv1; id=abc123"},
	}
}

// txtOf asks the lab's DNS for name's TXT record, "" when there is none.
func txtOf(t *testing.T, server, name string) string {
	t.Helper()
	r := query(t, server, name, dns.TypeTXT)
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return strings.Join(out, " | ")
}

func TestMTASTSRecords(t *testing.T) {
	l := startSTS(t, nil, nil)
	lay := l.Layout()
	wants := stsWants(lay.Zone)
	for _, s := range lay.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			want := wants[s.Name]
			if got := txtOf(t, lay.DNS, "_mta-sts."+s.Domain); got != want.txt {
				t.Errorf("_mta-sts.%s TXT = %q, want %q", s.Domain, got, want.txt)
			}
			if got := txtOf(t, lay.DNS, "_smtp._tls."+s.Domain); got != want.rpt {
				t.Errorf("_smtp._tls.%s TXT = %q, want %q", s.Domain, got, want.rpt)
			}
			// And as a real resolver tool shows them (issue 13: dig).
			if want.txt != "" {
				digTXT(t, lay.DNS, "_mta-sts."+s.Domain, want.txt)
			}
			if want.rpt != "" {
				digTXT(t, lay.DNS, "_smtp._tls."+s.Domain, want.rpt)
			}
			if s.TLSRPT != want.rpt {
				t.Errorf("manifest tls_rpt = %q, want %q", s.TLSRPT, want.rpt)
			}
			r := query(t, lay.DNS, "mta-sts."+s.Domain, dns.TypeA)
			if want.txt == "" {
				if s.MTASTS != nil || len(r.Answer) != 0 {
					t.Errorf("no policy, yet mta_sts = %+v and mta-sts.%s A = %v", s.MTASTS, s.Domain, r.Answer)
				}
				return
			}
			p := s.MTASTS
			if p == nil {
				t.Fatal("manifest: no mta_sts")
			}
			if p.Host != "mta-sts."+s.Domain || p.URL != "https://mta-sts."+s.Domain+"/.well-known/mta-sts.txt" || p.TXT != want.txt {
				t.Errorf("manifest mta_sts = %+v", p)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
				t.Errorf("mta-sts.%s A = %v, want 127.0.0.1", s.Domain, r.Answer)
			}
			if ap, err := netip.ParseAddrPort(p.Address); err != nil || ap.Port() == 0 {
				t.Errorf("manifest mta_sts.address %q is no bound address: %v", p.Address, err)
			}
			if want.policy != "" && p.Policy != want.policy {
				t.Errorf("manifest mta_sts.policy = %q, want %q", p.Policy, want.policy)
			}
		})
	}
	ep := lay.TLSRPT
	if ep == nil || ep.Host != "tlsrpt."+lay.Zone || ep.URL != "https://tlsrpt."+lay.Zone+"/v1/report" || ep.Mailbox != "tlsrpt@tlsrpt."+lay.Zone {
		t.Fatalf("manifest tlsrpt = %+v", ep)
	}
	if r := query(t, lay.DNS, ep.Host, dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("%s A = %v", ep.Host, r.Answer)
	}
	base, _ := lay.Site("baseline")
	if r := query(t, lay.DNS, ep.Host, dns.TypeMX); len(r.Answer) != 1 || r.Answer[0].(*dns.MX).Mx != base.MX+"." {
		t.Errorf("%s MX = %v, want baseline's %s", ep.Host, r.Answer, base.MX)
	}
}

// TestMTASTSCurl fetches every policy with curl, trusting only the lab
// CA, as an MTA-STS sender does (RFC 8461 §3.3), and posts a report to the
// TLS-RPT endpoint (RFC 8460 §5.4). The failing policy hosts fail with
// curl's own words.
func TestMTASTSCurl(t *testing.T) {
	curl := realpeer.Need(t, realpeer.Curl)
	reports := &tlsrpt.Store{}
	l := startSTS(t, reports, nil)
	lay := l.Layout()
	wants := stsWants(lay.Zone)
	tests := []struct {
		scenario string
		code     int    // curl's exit status
		says     string // in what curl prints; the policy itself for 0
	}{
		{"mta-sts-mismatch", 0, ""},
		{"mta-sts-testing", 0, ""},
		{"mta-sts-bad-cert", 0, ""},
		// CURLE_HTTP_RETURNED_ERROR with --fail.
		{"mta-sts-fetch-fail", 22, "The requested URL returned error: 404"},
		// CURLE_PEER_FAILED_VERIFICATION.
		{"sts-policy-bad-cert", 60, "SSL certificate problem: unable to get local issuer certificate"},
		// CURLE_COULDNT_CONNECT: the port is bound, nothing listens.
		{"sts-no-policy-host", 7, "Failed to connect"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			s, err := lay.Site(tt.scenario)
			if err != nil {
				t.Fatal(err)
			}
			p := s.MTASTS
			r := runCurl(t, curl, lay.CACert, p.Host, p.Address, p.URL)
			if r.Code != tt.code {
				t.Fatalf("curl exit %d, want %d:\n%s", r.Code, tt.code, r.All())
			}
			if tt.code == 0 {
				if want := wants[tt.scenario].policy; r.Stdout != want {
					t.Errorf("curl printed %q, want the policy %q", r.Stdout, want)
				}
				if !strings.Contains(strings.ToLower(r.Stderr), "< content-type: text/plain") {
					t.Errorf("the policy is not text/plain (RFC 8461 §3.2):\n%s", r.Stderr)
				}
				return
			}
			if !strings.Contains(r.Stderr, tt.says) {
				t.Errorf("curl did not say %q:\n%s", tt.says, r.Stderr)
			}
		})
	}

	t.Run("report", func(t *testing.T) {
		ep := lay.TLSRPT
		body := filepath.Join(t.TempDir(), "report.json")
		if err := os.WriteFile(body, []byte(stsTestReport), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCurl(t, curl, lay.CACert, ep.Host, ep.Address, ep.URL,
			"-H", "Content-Type: application/tlsrpt+json", "--data-binary", "@"+body)
		if r.Code != 0 || !strings.Contains(r.Stderr, "HTTP/1.1 201") {
			t.Fatalf("curl exit %d, want 0 and 201 Created:\n%s", r.Code, r.All())
		}
		got := l.TLSRPT().List()
		if len(got) != 1 || got[0].Via != tlsrpt.ViaHTTPS || got[0].Report.ReportID != "mxlab-test-1" {
			t.Fatalf("the store holds %+v, want the one report, via https", got)
		}
		if l.TLSRPT() != reports {
			t.Error("TLSRPT() is not the store the lab was given")
		}
	})
}

// runCurl runs curl against url with the lab CA as its only trust anchor
// and host resolved to addr (host:port), -v for the status line and
// headers, and --fail so that an HTTP error is an exit status.
func runCurl(t *testing.T, curl, ca, host, addr, url string, extra ...string) realpeer.Result {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	port := fmt.Sprint(ap.Port())
	// --resolve takes the port of the URL: give the URL the listener's
	// port (443 in the shared-port layout, where it is the URL as is).
	url = strings.Replace(url, "https://"+host+"/", "https://"+host+":"+port+"/", 1)
	args := append([]string{"-sS", "-v", "--fail", "--max-time", "20", "--cacert", ca,
		"--resolve", host + ":" + port + ":" + ap.Addr().String(), url}, extra...)
	return realpeer.Run(t, realpeer.Cmd{Path: curl, Args: args})
}

// stsTestReport is a report as RFC 8460 §4 describes one (Appendix B's
// shape), about the lab's mta-sts-mismatch domain.
const stsTestReport = `{
  "organization-name": "mxlab test",
  "date-range": {"start-datetime": "2026-12-01T00:00:00Z", "end-datetime": "2026-12-01T23:59:59Z"},
  "contact-info": "postmaster@sender.example",
  "report-id": "mxlab-test-1",
  "policies": [{
    "policy": {
      "policy-type": "sts",
      "policy-string": ["version: STSv1", "mode: enforce", "mx: mail.mta-sts-mismatch.mxlab.test", "max_age: 86400"],
      "policy-domain": "mta-sts-mismatch.mxlab.test",
      "mx-host": ["mail.mta-sts-mismatch.mxlab.test"]
    },
    "summary": {"total-successful-session-count": 0, "total-failure-session-count": 1},
    "failure-details": [{
      "result-type": "validation-failure",
      "sending-mta-ip": "127.0.0.1",
      "receiving-mx-hostname": "mx.mta-sts-mismatch.mxlab.test",
      "failed-session-count": 1,
      "failure-reason-code": "mx-mismatch"
    }]
  }]
}`

// TestMTASTSMailedReport: a report mailed to the lab's mailbox (RFC 8460
// §5.3) goes into the same store as the POSTed ones; mail to anyone else
// does not.
func TestMTASTSMailedReport(t *testing.T) {
	reports := &tlsrpt.Store{}
	var msgs *msgstore.Store
	var failed []error
	hook := MailedReports(DefaultZone, reports, func(id string) ([]byte, error) { return msgs.Raw(id) },
		func(_ msgstore.Message, err error) { failed = append(failed, err) })
	msgs, err := msgstore.Open(msgstore.Config{OnDeliver: hook})
	if err != nil {
		t.Fatal(err)
	}
	l := startSTS(t, reports, msgs)
	mailbox := l.Layout().TLSRPT.Mailbox
	mail := "From: reporter@sender.example\r\nTo: " + mailbox + "\r\nSubject: Report Domain: mta-sts-mismatch.mxlab.test\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nA TLS report.\r\n" +
		"--b\r\nContent-Type: application/tlsrpt+json\r\n\r\n" + stsTestReport + "\r\n--b--\r\n"
	for _, to := range []string{"someone@mta-sts-mismatch.mxlab.test", strings.ToUpper(mailbox)} {
		if _, err := msgs.Deliver(msgstore.Envelope{Scenario: "baseline", From: "reporter@sender.example", To: []string{to}}, []byte(mail)); err != nil {
			t.Fatal(err)
		}
	}
	got := l.TLSRPT().List()
	if len(got) != 1 || got[0].Via != tlsrpt.ViaMailto || got[0].Report.ReportID != "mxlab-test-1" || len(failed) != 0 {
		t.Fatalf("the store holds %+v (errors %v), want the one report to the mailbox, via mailto", got, failed)
	}
	if _, err := msgs.Deliver(msgstore.Envelope{To: []string{mailbox}}, []byte("Subject: no report\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || !errors.Is(failed[0], tlsrpt.ErrNoReport) {
		t.Errorf("a message without a report: errors %v, want ErrNoReport", failed)
	}
}

// TestMTASTSSharedPortLayout: in the shared-port layout each policy host
// is its scenario's own address on the HTTPS port, the endpoint the next
// address after the scenarios'; Plan says so without binding, and a lab
// binds exactly there and closes it all.
func TestMTASTSSharedPortLayout(t *testing.T) {
	cat, err := scenarios.Load(nil, stsTestScenarios, "mtasts_test.go")
	if err != nil {
		t.Fatal(err)
	}
	smtpPort, httpsPort := freePorts(t, "127.0.10.1")
	cfg := Config{StateDir: warmDir(t), DNS: "127.0.0.1:0", SessionsFile: "-", Catalogue: cat, Scenarios: stsNames,
		Addressing: Addressing{Port: smtpPort, Net: "127.0.10.0/24", HTTPSPort: httpsPort}}
	plan, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, lay *Layout) {
		for i, s := range lay.Scenarios {
			ip := fmt.Sprintf("127.0.10.%d", i+1)
			if s.MTASTS == nil {
				continue
			}
			if want := fmt.Sprintf("%s:%d", ip, httpsPort); s.MTASTS.Address != want {
				t.Errorf("%s: policy host at %s, want %s", s.Name, s.MTASTS.Address, want)
			}
		}
		if want := fmt.Sprintf("127.0.10.%d:%d", len(lay.Scenarios)+1, httpsPort); lay.TLSRPT == nil || lay.TLSRPT.Address != want {
			t.Errorf("tlsrpt = %+v, want address %s", lay.TLSRPT, want)
		}
	}
	t.Run("plan", func(t *testing.T) { check(t, plan) })
	l, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Run("start", func(t *testing.T) { check(t, l.Layout()) })
	var open []string
	for _, s := range l.Layout().Scenarios {
		if s.MTASTS != nil {
			open = append(open, s.MTASTS.Address)
			if r := query(t, l.Layout().DNS, s.MTASTS.Host, dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String()+":"+fmt.Sprint(httpsPort) != s.MTASTS.Address {
				t.Errorf("%s A = %v, want the address of %s", s.MTASTS.Host, r.Answer, s.MTASTS.Address)
			}
		}
	}
	open = append(open, l.Layout().TLSRPT.Address)
	nohost, _ := l.Layout().Site("sts-no-policy-host")
	for _, a := range open {
		c, err := net.Dial("tcp", a)
		if (err == nil) != (a != nohost.MTASTS.Address) {
			t.Errorf("dial %s: %v (nothing should listen only for no-policy-host)", a, err)
		}
		if c != nil {
			c.Close()
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range open {
		if c, err := net.Dial("tcp", a); err == nil {
			c.Close()
			t.Errorf("%s still answers after Close", a)
		}
	}
}

// freePorts are two ports free on ip a moment ago.
func freePorts(t *testing.T, ip string) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}

// TestMTASTSClosed: once the lab closes, its HTTPS listener and the port
// it keeps for a no-policy-host are free again.
func TestMTASTSClosed(t *testing.T) {
	l := startSTS(t, nil, nil)
	var addrs []string
	for _, s := range l.Layout().Scenarios {
		if s.MTASTS != nil {
			addrs = append(addrs, s.MTASTS.Address)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s is still held after Close: %v", a, err)
			continue
		}
		ln.Close()
	}
}

// digTXT asks the lab's DNS with Debian's dig and checks the TXT record it
// prints (+short: the strings, quoted).
func digTXT(t *testing.T, server, name, want string) {
	t.Helper()
	dig := realpeer.Need(t, realpeer.Dig)
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		t.Fatal(err)
	}
	r := realpeer.Run(t, realpeer.Cmd{Path: dig, Args: []string{"+short", "+tries=1", "+time=5", "-p", port, "@" + host, name, "TXT"}})
	if got := strings.TrimSpace(r.Stdout); r.Code != 0 || got != `"`+want+`"` {
		t.Errorf("dig %s TXT: exit %d, %q; want %q", name, r.Code, got, `"`+want+`"`)
	}
}
