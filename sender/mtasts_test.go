package sender_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
)

// stsDNS is a fake resolver for MTA-STS: every domain's MX is one of the
// test lab's (mx), which listens on 127.0.0.1, and TXT records come from
// a map.
type stsDNS struct {
	mx  string
	txt map[string][]string
}

func (f *stsDNS) LookupMX(context.Context, string) ([]string, bool, error) {
	return []string{f.mx}, false, nil
}

func (f *stsDNS) LookupAddr(context.Context, string) (net.IP, bool, error) {
	return net.IPv4(127, 0, 0, 1), false, nil
}

func (f *stsDNS) LookupTLSA(context.Context, string, int) ([]*dns.TLSA, bool, error) {
	return nil, false, nil
}

func (f *stsDNS) LookupTXT(_ context.Context, name string) ([]string, bool, error) {
	return f.txt[name], false, nil
}

// policyHost is an HTTPS policy host on loopback with a certificate from
// the test lab's store; serve answers every request.
type policyHost struct {
	srv   *httptest.Server
	roots *x509.CertPool
}

// certKind is the policy host's certificate.
type certKind int

const (
	goodCert      certKind = iota // lab CA, mta-sts.<domain>
	untrustedCert                 // a CA no client trusts (RFC 8461 §3.3)
	wrongNameCert                 // lab CA, another name
)

func startPolicyHost(t *testing.T, domain string, kind certKind, serve http.HandlerFunc) *policyHost {
	t.Helper()
	l := testLab(t)
	spec := certs.LeafSpec{Name: "sender-test-mta-sts-" + domain, DNSNames: []string{"mta-sts." + domain}, Key: certs.ECDSAP256}
	switch kind {
	case untrustedCert:
		spec.Name += "-untrusted"
		spec.Issuer = certs.IssuerUntrusted
	case wrongNameCert:
		spec.Name += "-wrong-name"
		spec.DNSNames = []string{"www." + domain}
	}
	leaf, err := l.CA().Leaf(spec)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(serve)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &policyHost{srv: srv, roots: l.CA().CAPool()}
}

// policyText is a policy for the test lab's baseline-like MX.
func policyText(mode string, mx ...string) string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\nmode: " + mode + "\r\n")
	for _, m := range mx {
		b.WriteString("mx: " + m + "\r\n")
	}
	b.WriteString("max_age: 86400\r\n")
	return b.String()
}

func servePolicy(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(text))
	}
}

// stsAttempt is one attempt to rcpt@example.test, whose MX is the test
// lab's scenario and whose policy host is ph (nil: no policy host).
func stsAttempt(t *testing.T, prof, scenario string, txt []string, ph *policyHost, edit func(*sender.Options)) *sender.Report {
	t.Helper()
	l := testLab(t)
	site, err := l.Layout().Site(scenario)
	if err != nil {
		t.Fatal(err)
	}
	opts := sender.Options{
		Profile: profile(t, prof), To: "rcpt@example.test",
		Resolver: &stsDNS{mx: site.MX, txt: map[string][]string{"_mta-sts.example.test": txt}},
		Roots:    l.CA().CAPool(), Timeout: 5 * time.Second, PortFor: l.Layout().PortFor,
	}
	if ph != nil {
		opts.HTTPSAddrFor = func(host string) string {
			if host == "mta-sts.example.test" {
				return ph.srv.Listener.Addr().String()
			}
			return ""
		}
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

var stsTXT = []string{"v=STSv1; id=20261202"}

// TestMTASTS: each case of RFC 8461 discovery and application, with the
// fake DNS, an httptest policy host and the test lab's MX listeners.
func TestMTASTS(t *testing.T) {
	mx := func(scenario string) string {
		site, err := testLab(t).Layout().Site(scenario)
		if err != nil {
			t.Fatal(err)
		}
		return site.MX
	}
	parent := func(scenario string) string { _, p, _ := strings.Cut(mx(scenario), "."); return p }
	big := policyText("enforce", mx("baseline")) + strings.Repeat("# padding\n", 7000)
	for _, tc := range []struct {
		name, profile, scenario string
		txt                     []string
		kind                    certKind
		serve                   http.HandlerFunc // nil: no policy host
		outcome                 result.Outcome
		reason                  result.Reason
		fetchFailure            result.Reason
		mode                    sender.STSMode
		failure                 result.Reason // STSReport.Failure
		sni                     string        // "" none, else the MX
	}{
		{name: "gmail/enforce-listed", profile: "gmail", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", mx("baseline"))), outcome: result.Delivered, mode: sender.STSEnforce, sni: "mx"},
		{name: "gmail/enforce-wildcard", profile: "gmail", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", "*."+parent("baseline"))), outcome: result.Delivered, mode: sender.STSEnforce, sni: "mx"},
		// §4.1: "*." matches one label, so *.mxlab.test misses mx.baseline.mxlab.test.
		{name: "gmail/enforce-wildcard-two-labels", profile: "gmail", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", "*.mxlab.test")), outcome: result.Deferred, reason: result.STSMXMismatch,
			mode: sender.STSEnforce, failure: result.STSMXMismatch},
		{name: "outlook/enforce-mismatch", profile: "outlook", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", "mail.example.test")), outcome: result.Deferred, reason: result.STSMXMismatch,
			mode: sender.STSEnforce, failure: result.STSMXMismatch},
		{name: "gmail/testing-mismatch", profile: "gmail", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("testing", "mail.example.test")), outcome: result.Delivered,
			mode: sender.STSTesting, failure: result.STSMXMismatch, sni: "mx"},
		// Without a policy Gmail delivers to a self-signed MX; enforce
		// makes it check the chain (§4.2).
		{name: "gmail/enforce-self-signed", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: servePolicy(policyText("enforce", mx("self-signed"))), outcome: result.Deferred, reason: result.CertificateNotTrusted,
			mode: sender.STSEnforce, failure: result.CertificateNotTrusted, sni: "mx"},
		{name: "gmail/testing-self-signed", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: servePolicy(policyText("testing", mx("self-signed"))), outcome: result.Delivered,
			mode: sender.STSTesting, failure: result.CertificateNotTrusted, sni: "mx"},
		// §4.2: the certificate must name the MX, not the domain.
		{name: "outlook/enforce-wrong-name", profile: "outlook", scenario: "wrong-name-cert", txt: stsTXT,
			serve: servePolicy(policyText("enforce", mx("wrong-name-cert"))), outcome: result.Deferred, reason: result.CertificateHostMismatch,
			mode: sender.STSEnforce, failure: result.CertificateHostMismatch, sni: "mx"},
		{name: "proton/enforce-no-starttls", profile: "proton", scenario: "no-starttls", txt: stsTXT,
			serve: servePolicy(policyText("enforce", mx("no-starttls"))), outcome: result.Deferred, reason: result.STARTTLSNotSupported,
			mode: sender.STSEnforce, failure: result.STARTTLSNotSupported},
		// Postfix with postfix-mta-sts-resolver: the patterns are checked
		// against the certificate after the handshake, with SNI.
		{name: "postfix-mta-sts/enforce-mismatch", profile: "postfix-mta-sts", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", "mail.example.test")), outcome: result.Deferred, reason: result.CertificateHostMismatch,
			mode: sender.STSEnforce, failure: result.CertificateHostMismatch, sni: "mx"},
		{name: "postfix-mta-sts/enforce-listed", profile: "postfix-mta-sts", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", mx("baseline"))), outcome: result.Delivered, mode: sender.STSEnforce, sni: "mx"},
		{name: "postfix-mta-sts/testing", profile: "postfix-mta-sts", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("testing", "mail.example.test")), outcome: result.Delivered,
			mode: sender.STSTesting, failure: result.STSMXMismatch},
		// Fetch failures (§3.3): no policy, delivered as without MTA-STS.
		{name: "gmail/policy-404", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: http.NotFound, outcome: result.Delivered, fetchFailure: result.STSPolicyFetchError, sni: "mx"},
		{name: "gmail/policy-redirect", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example.test/.well-known/mta-sts.txt", http.StatusFound)
			}, outcome: result.Delivered, fetchFailure: result.STSPolicyFetchError, sni: "mx"},
		{name: "gmail/policy-over-64KiB", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: servePolicy(big), outcome: result.Delivered, fetchFailure: result.STSPolicyFetchError, sni: "mx"},
		{name: "gmail/policy-host-untrusted", profile: "gmail", scenario: "self-signed", txt: stsTXT, kind: untrustedCert,
			serve: servePolicy(policyText("enforce", mx("self-signed"))), outcome: result.Delivered, fetchFailure: result.STSWebPKIInvalid, sni: "mx"},
		{name: "outlook/policy-host-wrong-name", profile: "outlook", scenario: "self-signed", txt: stsTXT, kind: wrongNameCert,
			serve: servePolicy(policyText("enforce", mx("self-signed"))), outcome: result.Delivered, fetchFailure: result.STSWebPKIInvalid, sni: "mx"},
		{name: "gmail/policy-invalid", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: servePolicy("version: STSv1\nmode: strict\nmx: x.example.test\nmax_age: 1\n"), outcome: result.Delivered,
			fetchFailure: result.STSPolicyInvalid, sni: "mx"},
		{name: "gmail/no-policy-host", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			outcome: result.Delivered, fetchFailure: result.STSPolicyFetchError, sni: "mx"},
		{name: "postfix-mta-sts/policy-404", profile: "postfix-mta-sts", scenario: "baseline", txt: stsTXT,
			serve: http.NotFound, outcome: result.Delivered, fetchFailure: result.STSPolicyFetchError},
		// §3.1: no record, or two, is no policy; nothing is fetched.
		{name: "gmail/no-txt", profile: "gmail", scenario: "self-signed", outcome: result.Delivered, sni: "mx"},
		{name: "gmail/two-txt", profile: "gmail", scenario: "self-signed", txt: []string{"v=STSv1; id=a", "v=STSv1; id=b"},
			serve: servePolicy(policyText("enforce", "mail.example.test")), outcome: result.Delivered, sni: "mx"},
		{name: "gmail/mode-none", profile: "gmail", scenario: "self-signed", txt: stsTXT,
			serve: servePolicy("version: STSv1\nmode: none\nmax_age: 60\n"), outcome: result.Delivered, mode: sender.STSNone, sni: "mx"},
		// Senders without MTA-STS never ask.
		{name: "postfix-may/enforce-mismatch", profile: "postfix-may", scenario: "baseline", txt: stsTXT,
			serve: servePolicy(policyText("enforce", "mail.example.test")), outcome: result.Delivered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ph *policyHost
			if tc.serve != nil {
				ph = startPolicyHost(t, "example.test", tc.kind, tc.serve)
			} else if tc.fetchFailure != "" {
				// A policy host address where nothing listens.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ph = &policyHost{srv: &httptest.Server{Listener: ln}}
				ln.Close()
			}
			rep := stsAttempt(t, tc.profile, tc.scenario, tc.txt, ph, nil)
			s := rep.STS
			if rep.Outcome != tc.outcome || rep.Reason != tc.reason && !(tc.reason == "" && rep.Outcome == result.Delivered) {
				t.Errorf("%s (%s), want %s (%s); sts %+v\n%s", rep.Outcome, rep.Reason, tc.outcome, tc.reason, s, strings.Join(rep.Transcript, "\n"))
			}
			p := profile(t, tc.profile)
			if s.LookedUp != p.Verify.MTASTS {
				t.Errorf("sts.looked_up %v, profile mta_sts %v", s.LookedUp, p.Verify.MTASTS)
			}
			if s.FetchFailure != tc.fetchFailure || (tc.fetchFailure != "") != (s.FetchError != "") {
				t.Errorf("fetch failure %q (%q), want %q", s.FetchFailure, s.FetchError, tc.fetchFailure)
			}
			if tc.fetchFailure != "" && !strings.HasPrefix(s.Result, "no policy") {
				t.Errorf("result %q after a failed fetch: RFC 8461 §3.3 leaves no policy", s.Result)
			}
			if s.Mode != tc.mode || s.Failure != tc.failure {
				t.Errorf("mode %q failure %q, want %q %q (%s)", s.Mode, s.Failure, tc.mode, tc.failure, s.Result)
			}
			if tc.mode == sender.STSEnforce || tc.mode == sender.STSTesting {
				if s.MXMatched == nil || len(s.Policy) == 0 || s.MaxAge == nil || *s.MaxAge != 86400 || s.ID != "20261202" {
					t.Errorf("policy not reported: %+v", s)
				}
			}
			sni := "none"
			if rep.TLS != nil && rep.TLS.SNISent != nil {
				sni = *rep.TLS.SNISent
			}
			if want := map[string]string{"": "none", "mx": mx(tc.scenario)}[tc.sni]; rep.TLS != nil && sni != want {
				t.Errorf("SNI %s, want %s", sni, want)
			}
			if strings.Contains(rep.BounceText, "{") {
				t.Errorf("bounce text %q has a placeholder left", rep.BounceText)
			}
		})
	}
}

// TestMTASTSTexts: the evidenced texts of Microsoft 365 under a policy,
// and a reconstructed one marked so.
func TestMTASTSTexts(t *testing.T) {
	ph := startPolicyHost(t, "example.test", goodCert, servePolicy(policyText("enforce", "mail.example.test")))
	rep := stsAttempt(t, "outlook", "baseline", stsTXT, ph, nil)
	if rep.BounceText != "4.4.8 MX hosts of example.test failed MTA-STS validation" || rep.BounceTextSource != profiles.Documented {
		t.Errorf("outlook mismatch: %q (%s)", rep.BounceText, rep.BounceTextSource)
	}
	if n := len(rep.Later); n == 0 || rep.Later[n-1].Outcome != result.Bounced {
		t.Errorf("later %+v: 5.4.8 after 24 hours", rep.Later)
	}
	ph = startPolicyHost(t, "example.test", goodCert, servePolicy(policyText("enforce", "*.mxlab.test", "*.self-signed.mxlab.test")))
	rep = stsAttempt(t, "gmail", "self-signed", stsTXT, ph, nil)
	if rep.Reason != result.CertificateNotTrusted || rep.BounceTextSource != profiles.Reconstructed {
		t.Errorf("gmail enforce self-signed: %s %q (%s): Gmail's words are not known", rep.Reason, rep.BounceText, rep.BounceTextSource)
	}
}

// TestMTASTSCache: a profile that caches keeps the policy by id and
// max_age (RFC 8461 §3.3): an unchanged id needs no fetch, a failed fetch
// applies the cached policy, a changed id fetches again, an expired one
// is gone; a profile that does not cache ignores the cache.
func TestMTASTSCache(t *testing.T) {
	var fail atomic.Bool
	var fetches atomic.Int32
	policy := policyText("enforce", "mail.example.test")
	ph := startPolicyHost(t, "example.test", goodCert, func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if fail.Load() {
			http.NotFound(w, r)
			return
		}
		servePolicy(policy)(w, r)
	})
	now := time.Now()
	cache := &sender.STSCache{}
	send := func(prof string, txt []string, at time.Time) *sender.Report {
		return stsAttempt(t, prof, "baseline", txt, ph, func(o *sender.Options) {
			o.STSCache = cache
			o.Now = func() time.Time { return at }
		})
	}

	rep := send("gmail", stsTXT, now)
	if !rep.STS.Fetched || rep.STS.FromCache || rep.Reason != result.STSMXMismatch || fetches.Load() != 1 {
		t.Fatalf("first attempt: fetched %v, from cache %v, %s, %d fetches", rep.STS.Fetched, rep.STS.FromCache, rep.Reason, fetches.Load())
	}
	rep = send("gmail", stsTXT, now.Add(time.Hour))
	if rep.STS.Fetched || !rep.STS.FromCache || rep.Reason != result.STSMXMismatch || fetches.Load() != 1 {
		t.Errorf("same id: fetched %v, from cache %v, %s, %d fetches; want the cached policy, no fetch", rep.STS.Fetched, rep.STS.FromCache, rep.Reason, fetches.Load())
	}
	fail.Store(true)
	newID := []string{"v=STSv1; id=20261203"}
	rep = send("gmail", newID, now.Add(2*time.Hour))
	if rep.STS.FetchFailure != result.STSPolicyFetchError || !rep.STS.FromCache || rep.Reason != result.STSMXMismatch || fetches.Load() != 2 {
		t.Errorf("new id, fetch fails: %+v, %s; want the cached policy applied (§3.3)", rep.STS, rep.Reason)
	}
	rep = send("gmail", nil, now.Add(3*time.Hour))
	if !rep.STS.FromCache || rep.Reason != result.STSMXMismatch {
		t.Errorf("TXT gone: %+v, %s; want the cached policy applied (§3.3)", rep.STS, rep.Reason)
	}
	rep = send("gmail", newID, now.Add(25*time.Hour))
	if rep.STS.FromCache || rep.Outcome != result.Delivered || rep.STS.FetchFailure != result.STSPolicyFetchError {
		t.Errorf("after max_age: %+v, %s; want no policy", rep.STS, rep.Outcome)
	}

	noCache := *profile(t, "gmail")
	noCache.Verify.MTASTSCache = false
	fail.Store(false)
	cache = &sender.STSCache{}
	rep = send("gmail", stsTXT, now)
	before := fetches.Load()
	rep2, err := sender.Send(context.Background(), sender.Options{Profile: &noCache, To: "rcpt@example.test",
		Resolver: &stsDNS{mx: mxName(t, "baseline"), txt: map[string][]string{"_mta-sts.example.test": stsTXT}},
		Roots:    ph.roots, Timeout: 5 * time.Second, PortFor: testLab(t).Layout().PortFor, STSCache: cache,
		HTTPSAddrFor: func(string) string { return ph.srv.Listener.Addr().String() }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.STS.Fetched || rep2.STS.FromCache || fetches.Load() != before+1 {
		t.Errorf("a profile that does not cache: from cache %v, %d fetches; want its own fetch", rep2.STS.FromCache, fetches.Load()-before)
	}
}

func mxName(t *testing.T, scenario string) string {
	t.Helper()
	site, err := testLab(t).Layout().Site(scenario)
	if err != nil {
		t.Fatal(err)
	}
	return site.MX
}

// TestMTASTSFetchTimeout: a policy host that never answers is a fetch
// error once the attempt's timeout passes; nothing waits on a clock but
// the fetch's own bound.
func TestMTASTSFetchTimeout(t *testing.T) {
	// The host answers nothing until the test ends. It used to give up
	// when the request's context ended too, and on a loaded machine that
	// sometimes came first: an empty 200, read as a policy without a
	// version (1 run in 30 with both cores busy).
	release := make(chan struct{})
	ph := startPolicyHost(t, "example.test", goodCert, func(w http.ResponseWriter, r *http.Request) {
		<-release
	})
	defer close(release)
	rep := stsAttempt(t, "gmail", "baseline", stsTXT, ph, func(o *sender.Options) { o.Timeout = 200 * time.Millisecond })
	if rep.STS.FetchFailure != result.STSPolicyFetchError || rep.Outcome != result.Delivered {
		t.Errorf("%+v, %s: a fetch that times out is sts-policy-fetch-error, then no policy", rep.STS, rep.Outcome)
	}
}
