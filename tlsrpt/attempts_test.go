package tlsrpt

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
	"github.com/mxlab/mxlab/tlsalert"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ and docs/tlsrpt.md's table")

// The day the reports cover.
var (
	dayStart = time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	dayEnd   = time.Date(2025, 5, 1, 23, 59, 59, 0, time.UTC)
)

// attempt is a sender report shaped as sender.Send writes one: the MX and
// address lookups, the connection and the greeting, then the steps given.
func attempt(to, mx, ip string, outcome result.Outcome, reason result.Reason, steps ...sender.Step) *sender.Report {
	rep := &sender.Report{
		Profile: "gmail", To: to, Outcome: outcome, Reason: reason,
		Steps: []sender.Step{
			{"step": "mx", "answer": []string{mx}, "authenticated": true},
			{"step": "address", "host": mx, "answer": []string{ip}, "authenticated": true},
			{"step": "connect", "addr": ip + ":25"},
			{"step": "banner", "reply": "220 " + mx + " ESMTP mxlab"},
		},
	}
	rep.Steps = append(rep.Steps, steps...)
	return rep
}

func ehlo(kws ...string) sender.Step { return sender.Step{"step": "ehlo", "keywords": kws} }

// The attempts of one sender's day, one per lab scenario it went to.
func dayOfAttempts() []*sender.Report {
	sniReject := attempt("a@x.sni-reject.mxlab.test", "mx.sni-reject.mxlab.test", "127.0.0.3", result.Bounced, result.TLSAlert,
		ehlo("PIPELINING", "STARTTLS"), sender.Step{"step": "starttls", "reply": "220 2.0.0 Ready to start TLS"})
	sniReject.TLS = &sender.TLSReport{AlertReceived: &tlsalert.JSON{Level: "fatal", Code: 47, Name: "illegal_parameter"}}
	sniReject.Transcript = []string{"TLS: received fatal alert 47 (illegal_parameter)", "sender: tls-alert -> bounced"}
	// The same failure twice more: one entry, three sessions.
	sniReject2 := *sniReject
	sniReject3 := *sniReject

	baseline := attempt("b@x.baseline.mxlab.test", "mx.baseline.mxlab.test", "127.0.0.2", result.Delivered, "",
		ehlo("STARTTLS"), sender.Step{"step": "ehlo", "keywords": []string{"PIPELINING"}, "tls": true})

	// Postfix at may: an untrusted certificate, delivered over TLS all
	// the same. No policy asked for a trusted one: a success.
	selfSigned := attempt("c@x.self-signed.mxlab.test", "mx.self-signed.mxlab.test", "127.0.0.4", result.Delivered, "",
		ehlo("STARTTLS"))
	selfSigned.Transcript = []string{"sender: certificate-not-trusted -> delivered"}

	// No STARTTLS offered; Gmail delivers without TLS and says nothing.
	noStartTLS := attempt("d@x.no-starttls.mxlab.test", "mx.no-starttls.mxlab.test", "127.0.0.5", result.DeliveredPlaintext, "",
		ehlo("PIPELINING", "8BITMIME"))

	// 454 to STARTTLS; the sender goes on in plaintext.
	starttls454 := attempt("e@x.starttls-454.mxlab.test", "mx.starttls-454.mxlab.test", "127.0.0.6", result.DeliveredPlaintext, "",
		ehlo("STARTTLS"), sender.Step{"step": "starttls", "reply": "454 4.7.0 TLS not available due to local problem"})
	starttls454.Transcript = []string{"sender: starttls-refused -> delivered-plaintext"}

	// DANE: usable authenticated TLSA records that match nothing.
	tlsaMismatch := attempt("f@x.tlsa-mismatch.mxlab.test", "mx.tlsa-mismatch.mxlab.test", "127.0.0.7", result.Deferred, result.TLSAInvalid,
		ehlo("STARTTLS"))
	tlsaMismatch.DANE = sender.DANEReport{LookedUp: true, Owner: "_25._tcp.mx.tlsa-mismatch.mxlab.test", Authenticated: true,
		Records: []string{"3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, Usable: 1,
		Result: "failed", Detail: "no TLSA record matches the chain"}

	// DNS and TCP: no TLS session, counted as neither.
	nxdomain := &sender.Report{To: "g@nowhere.mxlab.test", Outcome: result.Bounced, Reason: result.DNSNXDomain,
		Steps: []sender.Step{{"step": "mx", "answer": []string{}, "authenticated": false}}}
	refused := attempt("h@x.connect-refused.mxlab.test", "mx.connect-refused.mxlab.test", "127.0.0.8", result.Deferred, result.ConnectRefused)
	refused.Steps = refused.Steps[:3]

	// MTA-STS in testing mode: the MX is not listed; delivered all the
	// same, and reported.
	stsTesting := attempt("i@gmail.mta-sts-testing.mxlab.test", "mx.mta-sts-testing.mxlab.test", "127.0.0.9", result.Delivered, "",
		ehlo("STARTTLS"))
	stsTesting.STS = sender.STSReport{LookedUp: true, Fetched: true, Mode: sender.STSTesting,
		Policy: []string{"version: STSv1", "mode: testing", "mx: elsewhere.mxlab.test", "max_age: 86400"},
		MX:     []string{"elsewhere.mxlab.test"}, Failure: result.STSMXMismatch}
	// The record is published, the policy host fails: no policy applies,
	// the fetch error is reported under sts.
	stsFetch := attempt("j@gmail.mta-sts-fetch-fail.mxlab.test", "mx.mta-sts-fetch-fail.mxlab.test", "127.0.0.10", result.Delivered, "",
		ehlo("STARTTLS"))
	stsFetch.STS = sender.STSReport{LookedUp: true, FetchError: "500 Internal Server Error", FetchFailure: result.STSPolicyFetchError}

	return []*sender.Report{sniReject, &sniReject2, &sniReject3, baseline, selfSigned, noStartTLS, starttls454, tlsaMismatch, nxdomain, refused, stsTesting, stsFetch}
}

func TestFromAttemptsGolden(t *testing.T) {
	rep := FromAttempts("mxlab, as gmail", "tlsrpt@gmail.mxlab.invalid", dayStart, dayEnd, dayOfAttempts())
	got, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if err := Validate(got); err != nil {
		t.Errorf("the report does not validate:\n%v", err)
	}
	golden(t, "fromattempts.json", got)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the code writes now (go test -update rewrites it):\ngot:\n%s", path, got)
	}
}

// One attempt at a time: what each scenario's attempt counts as.
func TestFromAttemptsCounts(t *testing.T) {
	all := dayOfAttempts()
	tests := []struct {
		name         string
		rep          *sender.Report
		policy       PolicyType
		succ, fail   int64
		resultType   ResultType
		reasonCode   string
		mx, ip, helo string
	}{
		{"sni-reject/gmail", all[0], PolicyNone, 0, 1, ValidationFailure, "alert 47 (illegal_parameter)", "mx.sni-reject.mxlab.test", "127.0.0.3", "mx.sni-reject.mxlab.test"},
		{"baseline/gmail", all[3], PolicyNone, 1, 0, "", "", "", "", ""},
		{"self-signed/postfix-may", all[4], PolicyNone, 1, 0, "", "", "", "", ""},
		{"no-starttls/gmail", all[5], PolicyNone, 0, 1, STARTTLSNotSupported, "", "mx.no-starttls.mxlab.test", "127.0.0.5", "mx.no-starttls.mxlab.test"},
		{"starttls-454/postfix-may", all[6], PolicyNone, 0, 1, STARTTLSNotSupported, "starttls-refused", "mx.starttls-454.mxlab.test", "127.0.0.6", "mx.starttls-454.mxlab.test"},
		{"tlsa-mismatch/postfix-dane", all[7], PolicyTLSA, 0, 1, TLSAInvalid, "no TLSA record matches the chain", "mx.tlsa-mismatch.mxlab.test", "127.0.0.7", "mx.tlsa-mismatch.mxlab.test"},
		{"nowhere/gmail", all[8], PolicyNone, 0, 0, "", "", "", "", ""},
		{"connect-refused/gmail", all[9], PolicyNone, 0, 0, "", "", "", "", ""},
		{"mta-sts-testing/gmail", all[10], PolicySTS, 0, 1, ValidationFailure, "sts-mx-mismatch", "mx.mta-sts-testing.mxlab.test", "127.0.0.9", "mx.mta-sts-testing.mxlab.test"},
		{"mta-sts-fetch-fail/gmail", all[11], PolicySTS, 0, 1, STSPolicyFetchError, "", "mx.mta-sts-fetch-fail.mxlab.test", "127.0.0.10", "mx.mta-sts-fetch-fail.mxlab.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := FromAttempts("o", "c@example.test", dayStart, dayEnd, []*sender.Report{tt.rep})
			if tt.succ+tt.fail == 0 {
				if len(rep.Policies) != 0 {
					t.Errorf("policies %+v, want none: the attempt was no TLS session", rep.Policies)
				}
				return
			}
			if len(rep.Policies) != 1 {
				t.Fatalf("policies %+v, want one", rep.Policies)
			}
			p := rep.Policies[0]
			if p.Policy.Type != tt.policy || p.Summary.TotalSuccessful != tt.succ || p.Summary.TotalFailure != tt.fail {
				t.Errorf("policy %s, %d successful, %d failed; want %s, %d, %d", p.Policy.Type, p.Summary.TotalSuccessful, p.Summary.TotalFailure, tt.policy, tt.succ, tt.fail)
			}
			if tt.resultType == "" {
				if len(p.FailureDetails) != 0 {
					t.Errorf("failure details %+v, want none", p.FailureDetails)
				}
				return
			}
			want := FailureDetails{ResultType: tt.resultType, FailureReasonCode: tt.reasonCode, ReceivingMXHostname: tt.mx,
				ReceivingIP: tt.ip, ReceivingMXHelo: tt.helo, FailedSessionCount: 1}
			if len(p.FailureDetails) != 1 || p.FailureDetails[0] != want {
				t.Errorf("failure details %+v\nwant [%+v]", p.FailureDetails, want)
			}
		})
	}
}

// A report that went through JSON (matrix output, a file) counts the same.
func TestFromAttemptsAfterJSON(t *testing.T) {
	var again []*sender.Report
	for _, a := range dayOfAttempts() {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var r sender.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		again = append(again, &r)
	}
	a, _ := json.Marshal(FromAttempts("o", "c@example.test", dayStart, dayEnd, dayOfAttempts()))
	b, _ := json.Marshal(FromAttempts("o", "c@example.test", dayStart, dayEnd, again))
	if !bytes.Equal(a, b) {
		t.Errorf("after JSON:\n%s\nwant\n%s", b, a)
	}
}

func TestFromAttemptsEmpty(t *testing.T) {
	rep := FromAttempts("o", "c@example.test", dayStart, dayEnd, nil)
	b, _ := json.Marshal(rep)
	if err := Validate(b); err != nil {
		t.Errorf("a report of no attempts: %v\n%s", err, b)
	}
}

// TestConnectionLostBeforeTLS: a connection lost before any TLS was tried
// (proxied-a: no greeting) is no TLS failure; lost during the handshake
// or after it, it is one (validation-failure).
func TestConnectionLostBeforeTLS(t *testing.T) {
	before := attempt("a@x.proxied-a.mxlab.test", "mx.proxied-a.mxlab.test", "127.0.0.15", result.Deferred, result.ConnectionLost)
	after := attempt("b@x.baseline.mxlab.test", "mx.baseline.mxlab.test", "127.0.0.2", result.Deferred, result.ConnectionLost,
		ehlo("STARTTLS"), sender.Step{"step": "starttls", "reply": "220 2.0.0 Ready to start TLS"})
	after.TLS = &sender.TLSReport{}
	rep := FromAttempts("o", "c@example.test", dayStart, dayEnd, []*sender.Report{before, after})
	if len(rep.Policies) != 1 || rep.Policies[0].Policy.Domain != "x.baseline.mxlab.test" {
		t.Fatalf("policies %+v: want only the attempt that lost TLS", rep.Policies)
	}
	if d := rep.Policies[0].FailureDetails; len(d) != 1 || d[0].ResultType != "validation-failure" {
		t.Errorf("failure details %+v", d)
	}
}
