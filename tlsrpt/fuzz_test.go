package tlsrpt

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// The real reports the fuzzers start from (testdata/README.md says where
// each comes from); testdata/fuzz/ holds them in the fuzzers' own format.
var seeds = []string{"rfc8460-appendix-b.json", "mailru-sts-policy-fetch-error.json", "fromattempts.json"}

// FuzzParse: any body under either media type parses into a report whose
// JSON validates again, or fails with an error; nothing panics.
func FuzzParse(f *testing.F) {
	for _, name := range seeds {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(gzipped(f, data), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		mt := MediaJSON
		if gz {
			mt = MediaGzip
		}
		rep, err := Parse(bytes.NewReader(body), mt)
		if err != nil {
			return
		}
		roundTrip(t, rep)
	})
}

// FuzzFromMessage: the same for mailed reports.
func FuzzFromMessage(f *testing.F) {
	raw, err := os.ReadFile("testdata/google-no-policy-found.eml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	example, err := os.ReadFile("testdata/rfc8460-appendix-b.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(message(MediaGzip, "tlsrpt", "base64", gzipped(f, example)))
	f.Add(message(MediaJSON, "tlsrpt", "quoted-printable", example))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := FromMessage(raw)
		if err != nil {
			return
		}
		roundTrip(t, rep)
	})
}

// roundTrip checks that a report that parsed writes JSON that validates.
func roundTrip(t *testing.T, rep *Report) {
	t.Helper()
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatalf("a parsed report does not marshal: %v", err)
	}
	if err := Validate(out); err != nil {
		t.Fatalf("a parsed report, written again, does not validate: %v\n%s", err, out)
	}
}
