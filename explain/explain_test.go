package explain

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// entry is one message of testdata/corpus.yaml with the answer it must get.
type entry struct {
	Name   string `yaml:"name"`
	Source string `yaml:"source"`
	Form   string `yaml:"form"`
	Cause  string `yaml:"cause"`
	Text   string `yaml:"text"`
	EML    string `yaml:"eml"`
	Want   struct {
		Known     bool   `yaml:"known"`
		Kind      string `yaml:"kind"`
		Alert     int    `yaml:"alert"`
		Scenario  string `yaml:"scenario"`
		Source    string `yaml:"source"`
		Side      string `yaml:"side"`
		Reproduce string `yaml:"reproduce"`
	} `yaml:"want"`
}

func loadCorpus(tb testing.TB) []entry { return loadEntries(tb, "corpus.yaml") }

// loadEntries reads a list of messages under testdata/.
func loadEntries(tb testing.TB, file string) []entry {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	var list []entry
	if err := yaml.Unmarshal(data, &list); err != nil {
		tb.Fatalf("testdata/%s: %v", file, err)
	}
	return list
}

func (e entry) explain(tb testing.TB) Answer {
	tb.Helper()
	if e.EML == "" {
		return Explain(e.Text)
	}
	f, err := os.Open(filepath.Join("testdata", "eml", e.EML))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	a, err := ExplainMessage(f)
	if err != nil {
		tb.Fatalf("ExplainMessage(%s): %v", e.EML, err)
	}
	return a
}

// TestCorpus runs every message of the corpus and checks its answer.
func TestCorpus(t *testing.T) {
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	names := cat.Names()
	for _, e := range loadCorpus(t) {
		t.Run(e.Name, func(t *testing.T) {
			got := e.explain(t)
			w := e.Want
			if got.Known != w.Known {
				t.Fatalf("Known = %v, want %v\nanswer: %+v", got.Known, w.Known, got)
			}
			if !w.Known {
				if got.Kind != "" || got.Alert != nil || got.Scenario != "" || got.Reproduce != "" || len(got.Causes) > 0 {
					t.Errorf("unknown answer carries fields: %+v", got)
				}
				return
			}
			if got.Kind != w.Kind {
				t.Errorf("Kind = %q, want %q", got.Kind, w.Kind)
			}
			switch {
			case w.Alert == 0 && got.Alert != nil:
				t.Errorf("Alert = %+v, want none", *got.Alert)
			case w.Alert != 0 && got.Alert == nil:
				t.Errorf("Alert = nil, want %d", w.Alert)
			case w.Alert != 0 && got.Alert.Code != w.Alert:
				t.Errorf("Alert = %d, want %d", got.Alert.Code, w.Alert)
			}
			if got.Alert != nil && got.Alert.Name != tlsalert.Description(got.Alert.Code).String() {
				t.Errorf("Alert name %q does not match tlsalert's %q", got.Alert.Name, tlsalert.Description(got.Alert.Code))
			}
			if got.Scenario != w.Scenario {
				t.Errorf("Scenario = %q, want %q", got.Scenario, w.Scenario)
			}
			if w.Source != "" && got.Source != w.Source {
				t.Errorf("Source = %q, want %q", got.Source, w.Source)
			}
			if w.Side != "" && got.Side != w.Side {
				t.Errorf("Side = %q, want %q", got.Side, w.Side)
			}
			if w.Reproduce != "" && got.Reproduce != w.Reproduce {
				t.Errorf("Reproduce = %q, want %q", got.Reproduce, w.Reproduce)
			}
			checkComplete(t, got, names)
		})
	}
}

// checkComplete checks what every known answer must have.
func checkComplete(t *testing.T, a Answer, scenarioNames []string) {
	t.Helper()
	if a.ReceiverDid == "" || len(a.Causes) == 0 || a.Fix == "" {
		t.Errorf("incomplete answer: %+v", a)
	}
	if a.Side != SideSender && a.Side != SideReceiver {
		t.Errorf("Side = %q", a.Side)
	}
	if a.Source == "" {
		t.Errorf("Source is empty")
	}
	if a.Scenario == "" {
		if a.Reproduce != "" {
			t.Errorf("Reproduce %q without a scenario", a.Reproduce)
		}
		return
	}
	if !slices.Contains(scenarioNames, a.Scenario) {
		t.Errorf("Scenario %q is not in the catalogue %v", a.Scenario, scenarioNames)
	}
	if a.Reproduce == "" {
		t.Errorf("no Reproduce for scenario %q", a.Scenario)
	}
	if strings.HasPrefix(a.Reproduce, "mxlab send") && !strings.Contains(a.Reproduce, "@"+a.Scenario+"."+labZone) {
		t.Errorf("Reproduce %q does not send to the scenario's domain", a.Reproduce)
	}
}

// TestCorpusShape checks the corpus covers what the issue asks for.
func TestCorpusShape(t *testing.T) {
	corpus := loadCorpus(t)
	count := map[string]int{}
	sources := map[string]bool{}
	sides := map[string]bool{}
	seen := map[string]bool{}
	for _, e := range corpus {
		if seen[e.Name] {
			t.Errorf("duplicate entry %q", e.Name)
		}
		seen[e.Name] = true
		if e.Source == "" {
			t.Errorf("%s: no source", e.Name)
		}
		if (e.Text == "") == (e.EML == "") {
			t.Errorf("%s: want exactly one of text and eml", e.Name)
		}
		if !e.Want.Known {
			count["unknown"]++
			continue
		}
		count["known"]++
		count[e.Form]++
		if e.Want.Source != "" {
			sources[e.Want.Source] = true
		}
		if e.Want.Side != "" {
			sides[e.Want.Side] = true
		}
		lines := strings.Split(strings.TrimRight(e.Text, "\n"), "\n")
		switch e.Form {
		case "wrapped-76":
			if len(lines) < 2 {
				t.Errorf("%s: wrapped text has one line", e.Name)
			}
			for _, l := range lines {
				if len(l) > 76 {
					t.Errorf("%s: line longer than 76 columns: %q", e.Name, l)
				}
			}
		case "quoted":
			for _, l := range lines {
				if !strings.HasPrefix(l, ">") {
					t.Errorf("%s: line not quoted: %q", e.Name, l)
				}
			}
		}
	}
	if count["known"] < 25 || count["unknown"] < 5 {
		t.Errorf("corpus has %d known and %d unrelated messages, want >= 25 and >= 5", count["known"], count["unknown"])
	}
	for form, min := range map[string]int{"wrapped-76": 2, "quoted": 2, "eml": 2} {
		if count[form] < min {
			t.Errorf("corpus has %d known %s entries, want >= %d", count[form], form, min)
		}
	}
	for _, s := range []string{"gmail", "postfix", "exim", "sendmail", "outlook", "openssl-3", "openssl-1.1", "gnutls"} {
		if !sources[s] {
			t.Errorf("no known entry from %s", s)
		}
	}
	if !sides[SideSender] || !sides[SideReceiver] {
		t.Errorf("corpus does not cover both sides: %v", sides)
	}
}

// TestDecodeCodes checks the packed error codes of each library.
func TestDecodeCodes(t *testing.T) {
	tests := []struct {
		text  string
		alert tlsalert.Description
		dir   direction
		lib   string
	}{
		// BoringSSL (Gmail): 0x10000000 | (1000+47).
		{"error:10000417:SSL routines:OPENSSL_internal:SSLV3_ALERT_ILLEGAL_PARAMETER", 47, dirReceived, "boringssl"},
		// OpenSSL 3: 20<<23 | (1000+47).
		{"error:0A000417:SSL routines::sslv3 alert illegal parameter", 47, dirReceived, "openssl-3"},
		// OpenSSL 1.1: 20<<24 | ssl3_read_bytes<<12 | (1000+42).
		{"error:14094412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate", 42, dirReceived, "openssl-1.1"},
		// OpenSSL 1.0 prints function names in capitals.
		{"error:14094410:SSL routines:SSL3_READ_BYTES:sslv3 alert handshake failure", 40, dirReceived, "openssl-1.0"},
		// A server's "no shared cipher" (reason 193) means it sent alert 40.
		{"error:0A0000C1:SSL routines::no shared cipher", 40, dirSent, "openssl-3"},
		// "unsupported protocol" (reason 258) means it sent alert 70.
		{"error:1417D102:SSL routines:tls_process_client_hello:unsupported protocol", 70, dirSent, "openssl-1.1"},
		// The number in a numeric code wins over a wrong name after it.
		{"error:0A000418:SSL routines::sslv3 alert handshake failure", 48, dirReceived, "openssl-3"},
		{"SSL alert number 112", 112, dirReceived, ""},
		{"*** Received alert [40]: Handshake failed", 40, dirReceived, "gnutls"},
		{"remote error: tls: unknown certificate authority", 48, dirReceived, "go"},
		{"local error: tls: bad record MAC", 20, dirSent, "go"},
		{"A TLS fatal alert has been received: Illegal parameter", 47, dirReceived, "gnutls"},
		{"received fatal alert: UnknownCA", 48, dirReceived, "rustls"},
		{"Received fatal alert: protocol_version", 70, dirReceived, "java"},
		{"received SERVER ALERT: Fatal - Handshake Failure", 40, dirReceived, "erlang"},
		{"TLSV1_ALERT_PROTOCOL_VERSION", 70, dirReceived, "boringssl"},
		{"tlsv1 unrecognized name", 112, dirReceived, ""},
		{"tlsv13 alert certificate required", 116, dirReceived, ""},
		{"Error in handshake: A disallowed SNI server name has been received.", 47, dirSent, "gnutls"},
	}
	for _, tt := range tests {
		f := decodeLibrary(tt.text)
		if !f.hasAlert || f.alert != tt.alert || f.dir != tt.dir || f.library != tt.lib {
			t.Errorf("decodeLibrary(%q) = alert %v (%v) dir %v lib %q; want %v dir %v lib %q",
				tt.text, f.alert, f.hasAlert, f.dir, f.library, tt.alert, tt.dir, tt.lib)
		}
	}
	// Not alerts: Gmail's own error number, reasons without an alert,
	// and TLS words in successful sessions.
	for _, text := range []string{
		"FAILED_PRECONDITION: starttls error (71): protocol error",
		"error:0A00010B:SSL routines::wrong version number",
		"error:00000000:lib(0):func(0):reason(0)",
		"Anonymous TLS connection established from x[1.2.3.4]: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
		"X=TLS1.2:ECDHE_SECP384R1__RSA_SHA256__AES_256_GCM:256 CV=yes",
		"error:04000069:RSA routines:OPENSSL_internal:BAD_SIGNATURE",
	} {
		if f := decodeLibrary(text); f.hasAlert {
			t.Errorf("decodeLibrary(%q) found alert %d", text, f.alert)
		}
	}
}

// TestVariants checks the undoing of quoting, soft line breaks and wraps.
func TestVariants(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"> a\n> b", []string{"a b", "ab"}},
		{">> a\n> > b\n>c", []string{"a b c", "abc"}},
		{"one line", []string{"one line"}},
		{"SSLV3_ALERT_ILLEG=\nAL_PARAMETER =3D x=\ny", []string{"SSLV3_ALERT_ILLEGAL_PARAMETER = xy"}},
		{"a=b\nc", []string{"a=b c", "a=bc"}}, // a lone "=" in a log is not quoted-printable
	}
	for _, tt := range tests {
		if got := variants(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("variants(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestReproduce checks the commands for each kind of writer; the flags
// follow from the catalogue's scenarios (an MX name that is no host name,
// a self-signed certificate, no STARTTLS, published TLSA records).
func TestReproduce(t *testing.T) {
	tests := []struct {
		scenario, source, side, peer, kind, want string
	}{
		{"sni-reject", "gmail", SideSender, "", KindTLSAlert, "mxlab send --lab lab.json --profile gmail --to postmaster@sni-reject.mxlab.test"},
		// Postfix sends no SNI, so only the gmail profile gets the alert.
		{"sni-reject", "postfix", SideSender, "", KindTLSAlert, "mxlab send --lab lab.json --profile gmail --to postmaster@sni-reject.mxlab.test"},
		{"no-starttls", "postfix", SideSender, "", KindStartTLSNotSupported, "mxlab send --lab lab.json --profile postfix-encrypt --to postmaster@no-starttls.mxlab.test"},
		{"tlsa-mismatch", "outlook", SideSender, "", KindTLSAInvalid, "mxlab send --lab lab.json --profile outlook --to postmaster@tlsa-mismatch.mxlab.test"},
		{"tlsa-mismatch", "postfix", SideSender, "", KindValidationFailure, "mxlab send --lab lab.json --profile postfix-dane --to postmaster@tlsa-mismatch.mxlab.test"},
		{"no-shared-cipher", "sendmail", SideSender, "", KindTLSAlert, "mxlab send --lab lab.json --profile sendmail --to postmaster@no-shared-cipher.mxlab.test"},
		{"sni-reject", "exim", SideReceiver, "", KindTLSAlert, "openssl s_client -starttls smtp -connect 127.0.0.1:10027 -servername _dc-mx.sni-reject.mxlab.test"},
		{"self-signed", "postfix", SideReceiver, "", KindTLSAlert, "openssl s_client -starttls smtp -connect 127.0.0.1:10029 -verify_return_error"},
		{"sni-reject", "swaks", SideSender, "", KindTLSAlert, "swaks --tls --server 127.0.0.1:10027 --to postmaster@sni-reject.mxlab.test --tls-sni _dc-mx.sni-reject.mxlab.test"},
		{"sni-reject", "gnutls", SideSender, "", KindTLSAlert, "gnutls-cli --starttls-proto=smtp --port 10027 --insecure --sni-hostname _dc-mx.sni-reject.mxlab.test 127.0.0.1"},
		{"no-starttls", "openssl-3", SideSender, "", KindStartTLSNotSupported, "swaks --tls --server 127.0.0.1:10026 --to postmaster@no-starttls.mxlab.test"},
		// The 530 of require-tls shows only to a client that does not
		// start TLS; every profile does.
		{"require-tls", "postfix", SideSender, "", KindTLSRequired, "swaks --server 127.0.0.1:10038 --to postmaster@require-tls.mxlab.test"},
		// A failure the scenario's profiles meet for the kind's reason.
		{"starttls-454", "postfix", SideSender, "", KindStartTLSRefused, "mxlab send --lab lab.json --profile postfix-encrypt --to postmaster@starttls-454.mxlab.test"},
		{"", "gmail", SideSender, "", KindTLSAlert, ""},
		// Not a scenario of the catalogue.
		{"no-such-scenario", "gmail", SideSender, "", KindTLSAlert, ""},
	}
	for _, tt := range tests {
		if got := reproduceCommand(tt.scenario, tt.source, tt.side, tt.peer, tt.kind); got != tt.want {
			t.Errorf("reproduceCommand(%q, %q, %q, %q, %q) = %q, want %q", tt.scenario, tt.source, tt.side, tt.peer, tt.kind, got, tt.want)
		}
	}
}

// TestExplainMessageInput checks what ExplainMessage does with input that
// is no delivery report.
func TestExplainMessageInput(t *testing.T) {
	for _, in := range []string{"", " \n\n"} {
		if _, err := ExplainMessage(strings.NewReader(in)); !errors.Is(err, ErrNotMessage) {
			t.Errorf("ExplainMessage(%q) error = %v, want ErrNotMessage", in, err)
		}
	}
	tests := []struct{ in, kind, source string }{
		// A plain-text bounce.
		{"Subject: hi\n\nCannot start TLS: handshake failure\n", KindHandshakeFailure, "postfix"},
		// A line piped in that parses as a header.
		{"Diagnostic-Code: SMTP; 403 4.7.0 TLS handshake failed.\n", KindHandshakeFailure, "sendmail"},
		// A line that is no header at all.
		{"TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71): SSL alert number 47\n", KindTLSAlert, "gmail"},
	}
	for _, tt := range tests {
		a, err := ExplainMessage(strings.NewReader(tt.in))
		if err != nil || !a.Known || a.Kind != tt.kind || a.Source != tt.source {
			t.Errorf("ExplainMessage(%q) = %+v, %v; want %s from %s", tt.in, a, err, tt.kind, tt.source)
		}
	}
	if _, err := ExplainMessage(iotest.ErrReader(errors.New("boom"))); err == nil || errors.Is(err, ErrNotMessage) {
		t.Errorf("ExplainMessage(failing reader) error = %v", err)
	}
}

// TestExplainWordings checks wordings the corpus has no posted example of
// (each rule's source is cited in patterns.go).
func TestExplainWordings(t *testing.T) {
	tests := []struct {
		text, kind string
		alert      int
	}{
		// Gmail's own number is not an alert.
		{"TLS Negotiation failed: FAILED_PRECONDITION: starttls error (71)", KindHandshakeFailure, 0},
		{"The certificate for the recipient domain is invalid.", KindCertificateNotTrusted, 0},
		{"postfix/smtp[1]: certificate verification failed for mx.example.org[192.0.2.1]:25: certificate has expired", KindCertificateExpired, 0},
		{"postfix/smtp[1]: certificate verification failed for mx.example.org[192.0.2.1]:25: untrusted issuer /C=US/O=Example", KindCertificateNotTrusted, 0},
		{"postfix/smtp[1]: server certificate verification failed for mx.example.org[192.0.2.1]:25: num=62:hostname mismatch", KindCertificateHostMismatch, 0},
		{"tls: failed to verify certificate: x509: certificate signed by unknown authority", KindCertificateNotTrusted, 0},
		{"TLS is required, but host mx.example.org[192.0.2.1] refused to start TLS: 454 4.7.0 TLS not available due to local problem", KindStartTLSRefused, 0},
		{"<- 454 4.3.3 TLS not available after start", KindStartTLSRefused, 0},
		{"<- 503 STARTTLS command used when not advertised", KindStartTLSNotSupported, 0},
		{"*** Host did not advertise STARTTLS", KindStartTLSNotSupported, 0},
		{"450 4.7.324 dnssec-invalid: Destination domain returned invalid DNSSEC records", KindDNSSECInvalid, 0},
		{"451 4.7.5 Remote certificate failed MTA-STS validation. Reason: NotTrusted", KindSTSWebPKIInvalid, 0},
		{"451 4.4.8 MX hosts of example.org failed MTA-STS validation.", KindSTSPolicyInvalid, 0},
		{"postfix/smtpd[7]: warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading:ssl/record/rec_layer_s3.c:317:", KindHandshakeFailure, 0},
		{"postfix/smtpd[7]: lost connection after STARTTLS from unknown[192.0.2.9]", KindHandshakeFailure, 0},
		{"TLS error on connection from (x) [192.0.2.2] (gnutls_handshake): An unexpected TLS packet was received.", KindTLSAlert, 10},
		{"TLS error on connection to mx.example.org [192.0.2.1] (gnutls_handshake): A TLS fatal alert has been received: The server name sent was not recognized", KindTLSAlert, 112},
	}
	for _, tt := range tests {
		a := Explain(tt.text)
		code := 0
		if a.Alert != nil {
			code = a.Alert.Code
		}
		if !a.Known || a.Kind != tt.kind || code != tt.alert {
			t.Errorf("Explain(%q) = %s alert %d (known %v), want %s alert %d", tt.text, a.Kind, code, a.Known, tt.kind, tt.alert)
		}
	}
}
