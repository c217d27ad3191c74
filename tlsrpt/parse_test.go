package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"mime/quotedprintable"
	"os"
	"strings"
	"testing"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestParse(t *testing.T) {
	example, err := os.ReadFile("testdata/rfc8460-appendix-b.json")
	if err != nil {
		t.Fatal(err)
	}
	// A body that inflates past MaxReport from a few kilobytes.
	bomb := gzipped(t, bytes.Repeat([]byte(" "), MaxReport+1))
	tests := []struct {
		name, contentType string
		body              []byte
		err               error // nil: parses
		errText           string
	}{
		{"json", "application/tlsrpt+json", example, nil, ""},
		{"json with parameters", "application/tlsrpt+json; charset=utf-8", example, nil, ""},
		{"gzip", "application/tlsrpt+gzip", gzipped(t, example), nil, ""},
		{"plain json", "application/json", example, ErrMediaType, `"application/json"`},
		{"no content type", "", example, ErrMediaType, ""},
		{"gzip that is not", "application/tlsrpt+gzip", example, nil, "gzip: invalid header"},
		{"a gzip bomb", "application/tlsrpt+gzip", bomb, ErrTooLarge, "decompressed report"},
		{"compressed over the bound", "application/tlsrpt+gzip", make([]byte, MaxCompressed+1), ErrTooLarge, "compressed report"},
		{"json over the bound", "application/tlsrpt+json", make([]byte, MaxReport+1), ErrTooLarge, ""},
		{"not a report", "application/tlsrpt+json", []byte(`{"organization-name":"x"}`), ErrInvalid, "policies: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(bytes.NewReader(tt.body), tt.contentType)
			if tt.err == nil && tt.errText == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkAppendixB(t, rep)
				return
			}
			if err == nil {
				t.Fatal("parsed")
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q lacks %q", err, tt.errText)
			}
		})
	}
}

// checkAppendixB checks what RFC 8460's example report says.
func checkAppendixB(t *testing.T, rep *Report) {
	t.Helper()
	if rep.OrganizationName != "Company-X" || rep.DateRange.Start.Format("2006-01-02T15:04:05Z07:00") != "2016-04-01T00:00:00Z" || len(rep.Policies) != 1 {
		t.Fatalf("report %+v", rep)
	}
	p := rep.Policies[0]
	if p.Policy.Type != PolicySTS || len(p.Policy.MXHost) != 1 || p.Policy.MXHost[0] != "*.mail.company-y.example" ||
		p.Summary != (Summary{5326, 303}) || len(p.FailureDetails) != 3 || p.FailureDetails[2].FailureReasonCode != "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED" {
		t.Errorf("policy %+v", p)
	}
}

// Google's report as it arrived by mail (testdata/README.md).
func TestFromMessageGoogle(t *testing.T) {
	raw, err := os.ReadFile("testdata/google-no-policy-found.eml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := FromMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := PolicyResult{Policy: Policy{Type: PolicyNone, Domain: "cardinalhealth.ca"}, Summary: Summary{TotalSuccessful: 48}}
	if rep.OrganizationName != "Google Inc." || rep.ReportID != "2024-09-03T00:00:00Z_cardinalhealth.ca" || len(rep.Policies) != 1 ||
		rep.Policies[0].Policy.Type != want.Policy.Type || rep.Policies[0].Policy.Domain != want.Policy.Domain || rep.Policies[0].Summary != want.Summary {
		t.Errorf("report %+v", rep)
	}
}

// message builds a mailed report as RFC 8460 §5.3.1's example lays it
// out: a text part, then the report part.
func message(contentType, reportType, encoding string, part []byte) []byte {
	var b strings.Builder
	b.WriteString("From: tlsrpt@mail.sender.example.com\r\nTo: tlsrpt@example.net\r\nSubject: Report Domain: example.net Submitter: mail.sender.example.com Report-ID: <735ff.e317+bf22029@example.net>\r\n")
	b.WriteString("TLS-Report-Domain: example.net\r\nTLS-Report-Submitter: mail.sender.example.com\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/report; report-type=\"" + reportType + "\";\r\n    boundary=\"----=_NextPart_000_024E_01CC9B0A.AFE54C00\"\r\n\r\n")
	b.WriteString("This is a multipart message in MIME format.\r\n\r\n------=_NextPart_000_024E_01CC9B0A.AFE54C00\r\n")
	b.WriteString("Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThis is an aggregate TLS report from mail.sender.example.com\r\n\r\n")
	b.WriteString("------=_NextPart_000_024E_01CC9B0A.AFE54C00\r\n")
	b.WriteString("Content-Type: " + contentType + "\r\nContent-Transfer-Encoding: " + encoding + "\r\n")
	b.WriteString("Content-Disposition: attachment;\r\n    filename=\"mail.sender.example!example.com!1013662812!1013749130.json.gz\"\r\n\r\n")
	switch encoding {
	case "base64":
		enc := base64.StdEncoding.EncodeToString(part)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	case "quoted-printable":
		w := quotedprintable.NewWriter(&b)
		w.Write(part)
		w.Close()
		b.WriteString("\r\n")
	default:
		b.Write(part)
		b.WriteString("\r\n")
	}
	b.WriteString("------=_NextPart_000_024E_01CC9B0A.AFE54C00--\r\n")
	return []byte(b.String())
}

func TestFromMessage(t *testing.T) {
	example, err := os.ReadFile("testdata/rfc8460-appendix-b.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		raw     []byte
		err     error // nil: parses
		errText string
	}{
		{"gzip in base64", message(MediaGzip, "tlsrpt", "base64", gzipped(t, example)), nil, ""},
		{"json in quoted-printable", message(MediaJSON, "tlsrpt", "quoted-printable", example), nil, ""},
		{"json in 7bit", message(MediaJSON, "tlsrpt", "7bit", example), nil, ""},
		{"report type in capitals", message(MediaJSON, "TLSRPT", "7bit", example), nil, ""},
		{"a bare report", []byte("Content-Type: application/tlsrpt+json\r\n\r\n" + string(example)), nil, ""},
		{"a DMARC report", message("application/gzip", "dmarc", "base64", gzipped(t, example)), ErrNoReport, `report-type="dmarc"`},
		{"no report part", message("application/pdf", "tlsrpt", "base64", example), ErrNoReport, ""},
		{"plain text", []byte("Subject: hello\r\n\r\nHello, is this working?\r\n"), ErrNoReport, ""},
		{"a broken report", message(MediaJSON, "tlsrpt", "7bit", []byte(`{"policies":1}`)), ErrInvalid, "policies: want an array"},
		{"too large", make([]byte, MaxMessage+1), ErrTooLarge, ""},
		{"no header", []byte("no header here"), nil, "reading the message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := FromMessage(tt.raw)
			if tt.err == nil && tt.errText == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkAppendixB(t, rep)
				return
			}
			if err == nil {
				t.Fatal("parsed")
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q lacks %q", err, tt.errText)
			}
		})
	}
}
