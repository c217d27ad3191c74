package tlsrpt

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// minimal is the smallest valid report: Google's no-policy-found shape.
const minimal = `{"organization-name":"Google Inc.","date-range":{"start-datetime":"2024-09-03T00:00:00Z","end-datetime":"2024-09-03T23:59:59Z"},` +
	`"contact-info":"smtp-tls-reporting@google.com","report-id":"2024-09-03T00:00:00Z_example.com",` +
	`"policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},` +
	`"summary":{"total-successful-session-count":48,"total-failure-session-count":0}}]}`

// withFailure is minimal with one failure entry, FAILURE standing for its
// members.
func withFailure(members string) string {
	return strings.Replace(minimal, `"total-failure-session-count":0}}`,
		`"total-failure-session-count":1},"failure-details":[{`+members+`}]}`, 1)
}

func TestValidateGood(t *testing.T) {
	for _, name := range []string{"rfc8460-appendix-b.json", "mailru-sts-policy-fetch-error.json", "fromattempts.json"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(data); err != nil {
				t.Error(err)
			}
		})
	}
	good := []struct{ name, json string }{
		{"google no-policy-found", minimal},
		{"mx-host as an array (errata 6241)", strings.Replace(minimal, `"policy-domain":"example.com"`, `"policy-domain":"example.com","mx-host":["*.example.com"]`, 1)},
		{"mx-host as a string (RFC 8460 Appendix B)", strings.Replace(minimal, `"policy-domain":"example.com"`, `"policy-domain":"example.com","mx-host":"*.example.com"`, 1)},
		{"microsoft: a failure with no hosts", withFailure(`"failed-session-count":1,"failure-reason-code":"MX_HOSTS_MISMATCH","result-type":"validation-failure"`)},
		{"an alert", withFailure(`"result-type":"validation-failure","receiving-ip":"2001:db8::1","failed-session-count":3,"failure-reason-code":"alert 47 (illegal_parameter)"`)},
		{"a time zone offset", strings.Replace(minimal, "2024-09-03T23:59:59Z", "2024-09-04T01:59:59+02:00", 1)},
		{"members the RFC does not name", strings.Replace(minimal, `"report-id"`, `"x-extra":{"a":[1,2]},"report-id"`, 1)},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate([]byte(tt.json)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestValidateBad(t *testing.T) {
	bad := []struct {
		name, json string
		path       string // the path the error must name
	}{
		{"not JSON", `{"organization-name":`, "report: not JSON"},
		{"an array", `[]`, "report: want an object"},
		{"two values", minimal + ` {}`, "report: data after"},
		{"no organization", strings.Replace(minimal, `"organization-name":"Google Inc.",`, "", 1), "organization-name: missing"},
		{"empty report-id", strings.Replace(minimal, `"2024-09-03T00:00:00Z_example.com"`, `""`, 1), "report-id: empty"},
		{"contact-info a number", strings.Replace(minimal, `"smtp-tls-reporting@google.com"`, `42`, 1), "contact-info: want a string, got a number"},
		// Microsoft's early reports (mox tlsrpt/report.go works around them).
		{"a date without a time zone", strings.Replace(minimal, "2024-09-03T00:00:00Z", "2024-09-03T00:00:00", 1), "date-range.start-datetime: \"2024-09-03T00:00:00\" is not an RFC 3339"},
		{"end before start", strings.Replace(minimal, "2024-09-03T23:59:59Z", "2024-09-02T23:59:59Z", 1), "date-range: end-datetime"},
		{"policies an object", strings.Replace(strings.Replace(minimal, `"policies":[`, `"policies":`, 1), `}}]}`, `}}}`, 1), "policies: want an array"},
		{"unknown policy type", strings.Replace(minimal, "no-policy-found", "dane", 1), `policies[0].policy.policy-type: "dane" is not a policy type`},
		{"no policy-domain", strings.Replace(minimal, `,"policy-domain":"example.com"`, "", 1), "policies[0].policy.policy-domain: missing"},
		{"policy-string a string", strings.Replace(minimal, `"policy-domain":"example.com"`, `"policy-domain":"example.com","policy-string":"version: STSv1"`, 1), "policies[0].policy.policy-string: want an array of strings"},
		{"mx-host numbers", strings.Replace(minimal, `"policy-domain":"example.com"`, `"policy-domain":"example.com","mx-host":[1]`, 1), "policies[0].policy.mx-host[0]: want a string"},
		{"no summary", strings.Replace(minimal, `,"summary":{"total-successful-session-count":48,"total-failure-session-count":0}`, "", 1), "policies[0].summary: missing"},
		{"negative count", strings.Replace(minimal, `:48`, `:-1`, 1), "policies[0].summary.total-successful-session-count: want a count ≥ 0, got -1"},
		{"fractional count", strings.Replace(minimal, `:48`, `:4.8`, 1), "total-successful-session-count: want an integer, got 4.8"},
		{"count as text", strings.Replace(minimal, `:48`, `:"48"`, 1), "total-successful-session-count: want an integer, got a string"},
		{"unknown result type", withFailure(`"result-type":"tls-alert","failed-session-count":1`), `policies[0].failure-details[0].result-type: "tls-alert" is not a result type of RFC 8460 §4.3`},
		{"no result type", withFailure(`"failed-session-count":1`), "policies[0].failure-details[0].result-type: missing"},
		{"no failed-session-count", withFailure(`"result-type":"starttls-not-supported"`), "policies[0].failure-details[0].failed-session-count: missing"},
		{"a host name as the IP", withFailure(`"result-type":"starttls-not-supported","failed-session-count":1,"receiving-ip":"mx.example.com"`), `failure-details[0].receiving-ip: "mx.example.com" is not an IP address`},
		{"failure-details an object", strings.Replace(minimal, `"total-failure-session-count":0}}`, `"total-failure-session-count":0},"failure-details":{}}`, 1), "policies[0].failure-details: want an array"},
		{"a member twice", strings.Replace(minimal, `"report-id":`, `"report-id":"a","report-id":`, 1), "report-id: named twice"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.json))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.json)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%v is not a *FieldError", err)
			}
			if !strings.HasPrefix(err.Error(), "tlsrpt: ") || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name %q", err, tt.path)
			}
		})
	}
}

// Every problem is reported, not just the first.
func TestValidateAllProblems(t *testing.T) {
	doc := strings.Replace(strings.Replace(minimal, `:48`, `:-1`, 1), "no-policy-found", "dane", 1)
	err := Validate([]byte(doc))
	for _, want := range []string{"total-successful-session-count", "policy-type"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
}
