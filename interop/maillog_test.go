package interop

import (
	"slices"
	"strings"
	"testing"
)

// maillogSample is a Postfix 3.7.11 maillog_file from TestFidelityPostfix
// (level may), with the lines of two smtp processes interleaved and the
// plaintext fallback of docs/interop-recipe.md §6a.
const maillogSample = `Nov 22 20:45:40 client postfix/master[21243]: daemon started -- version 3.7.11, configuration /tmp/pfx/etc
Nov 22 20:45:42 client postfix/qmgr[21246]: 12BE198603B: from=<sender@client.lab.test>, size=271, nrcpt=1 (queue active)
Nov 22 20:45:42 client postfix/smtp[21304]: Trusted TLS connection established to mx.baseline.mxlab.test[127.0.1.1]:25: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256
Nov 22 20:45:42 client postfix/smtp[21311]: SSL_connect error to mx.no-shared-cipher.mxlab.test[127.0.1.4]:25: -1
Nov 22 20:45:42 client postfix/smtp[21311]: warning: TLS library problem: error:0A000410:SSL routines::sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1601:SSL alert number 40:
Nov 22 20:45:42 client postfix/smtp[21311]: 1D7FB98603D: to=<rcpt@may.no-shared-cipher.mxlab.test>, relay=mx.no-shared-cipher.mxlab.test[127.0.1.4]:25, delay=0.12, delays=0.1/0.01/0.01/0, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)
Nov 22 20:45:42 client postfix/smtp[21304]: 12BE198603B: to=<rcpt@may.baseline.mxlab.test>, relay=mx.baseline.mxlab.test[127.0.1.1]:25, delay=0.13, delays=0.05/0.01/0.05/0.02, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 0C4E6B00003)
Nov 22 20:45:42 client postfix/smtp[21311]: 1F671986254: to=<rcpt@may.no-starttls.mxlab.test>, relay=mx.no-starttls.mxlab.test[127.0.1.2]:25, delay=0.1, delays=0.05/0.01/0.02/0.02, dsn=2.0.0, status=sent (250 2.0.0 6AMK0XQk000005 Message accepted for delivery)
Nov 22 20:45:44 client postfix/smtp[21304]: SSL_connect error to mx.no-shared-cipher.mxlab.test[127.0.1.4]:25: -1
Nov 22 20:45:44 client postfix/smtp[21304]: 1D7FB98603D: Cannot start TLS: handshake failure
Nov 22 20:45:44 client postfix/smtp[21304]: 1D7FB98603D: to=<rcpt@may.no-shared-cipher.mxlab.test>, relay=mx.no-shared-cipher.mxlab.test[127.0.1.4]:25, delay=2.2, delays=2.2/0/0.01/0, dsn=2.0.0, status=sent (250 2.0.0 6AMK0XQk000007 Message accepted for delivery)
Nov 22 20:45:44 client postfix/error[21319]: 631B09861D7: to=<sender@client.lab.test>, relay=none, delay=0.03, delays=0/0.02/0/0, dsn=4.4.3, status=deferred (delivery temporarily suspended: Host or domain name not found)
`

func TestParseMaillog(t *testing.T) {
	ds, err := ParseMaillog(strings.NewReader(maillogSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		to, dsn, status, tls string
		delay                float64
		logs                 int
	}{
		{to: "rcpt@may.no-shared-cipher.mxlab.test", dsn: "4.7.5", status: "deferred", delay: 0.12, logs: 3},
		{to: "rcpt@may.baseline.mxlab.test", dsn: "2.0.0", status: "sent", tls: "Trusted", delay: 0.13, logs: 2},
		// The same process as the first: its TLS failure is not this
		// delivery's, and no TLS line means plaintext.
		{to: "rcpt@may.no-starttls.mxlab.test", dsn: "2.0.0", status: "sent", delay: 0.1, logs: 1},
		// The fallback: SSL_connect error, then sent without a TLS line.
		{to: "rcpt@may.no-shared-cipher.mxlab.test", dsn: "2.0.0", status: "sent", delay: 2.2, logs: 3},
	}
	if len(ds) != len(want) {
		t.Fatalf("got %d deliveries, want %d (smtp only): %+v", len(ds), len(want), ds)
	}
	for i, w := range want {
		d := ds[i]
		if d.To != w.to || d.DSN != w.dsn || d.Status != w.status || d.TLS != w.tls || d.Delay != w.delay || len(d.Log) != w.logs {
			t.Errorf("delivery %d: to=%s dsn=%s status=%s tls=%q delay=%g %d log lines, want %+v", i, d.To, d.DSN, d.Status, d.TLS, d.Delay, len(d.Log), w)
		}
	}
	if got := ds[0].StatusText(); got != "dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)" {
		t.Errorf("StatusText = %q", got)
	}
	if !slices.Contains(ds[3].Log, "1D7FB98603D: Cannot start TLS: handshake failure") {
		t.Errorf("fallback log lines %q lack the queue id's line", ds[3].Log)
	}
}

func TestAttempts(t *testing.T) {
	// The sample, then a second message to the same recipient (another
	// queue id) whose line comes before the first message's retry, and
	// that retry with a smaller delay than the first attempt's: neither
	// the recipient alone nor the delay orders attempts.
	log := maillogSample + `Nov 22 20:45:45 client postfix/smtp[21304]: 2A1B3986300: to=<rcpt@may.baseline.mxlab.test>, relay=mx.baseline.mxlab.test[127.0.1.1]:25, delay=0.2, delays=0.1/0.01/0.05/0.04, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)
Nov 22 20:45:46 client postfix/smtp[21305]: 12BE198603B: to=<rcpt@may.baseline.mxlab.test>, relay=mx.baseline.mxlab.test[127.0.1.1]:25, delay=0.01, delays=0/0/0.01/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 0C4E6B00009)
`
	ds, err := ParseMaillog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rcpt   string
		status []string
		qid    string
	}{
		{"rcpt@may.no-shared-cipher.mxlab.test", []string{"deferred", "sent"}, "1D7FB98603D"},
		{"rcpt@may.baseline.mxlab.test", []string{"sent", "sent"}, "12BE198603B"},
		{"rcpt@may.no-starttls.mxlab.test", []string{"sent"}, "1F671986254"},
		{"rcpt@nowhere.mxlab.test", nil, ""},
	}
	for _, c := range cases {
		as := Attempts(ds, c.rcpt)
		var got []string
		for _, a := range as {
			got = append(got, a.Status)
			if a.QueueID != c.qid || a.To != c.rcpt {
				t.Errorf("Attempts(%s): line of %s to %s", c.rcpt, a.QueueID, a.To)
			}
		}
		if !slices.Equal(got, c.status) {
			t.Errorf("Attempts(%s) = %q, want %q", c.rcpt, got, c.status)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct{ a, b string }{
		// A prediction rendered for one run, Postfix's text from another.
		{"TLS is required, but was not offered by host mx.no-starttls.mxlab.test[127.0.1.2]",
			"TLS is required, but was not offered by host mx.no-starttls.mxlab.test[127.0.1.9]"},
		{"host _dc-mx.371586eae345.sni-reject.mxlab.test[127.0.1.3] said: 550 5.7.1 no",
			"host mail.example.org[192.0.2.1] said: 550 5.7.1 no"},
		{"connect to mx.baseline.mxlab.test[127.0.1.1]:25: Connection refused",
			"connect to mx.baseline.mxlab.test[127.0.1.1]:10025: Connection refused"},
		{"250 2.0.0 Ok: queued as 0C4E6B00003", "250 2.0.0 Ok: queued as 1821A700004"},
		{"250 OK id=00CdDs-000001-00", "250 OK id=1xVDXP-00028Z-0n"},
		{"stat=Sent (001cV0ue000001 Message accepted for delivery)", "stat=Sent (6AMK0XQk023259 Message accepted for delivery)"},
	}
	for _, c := range cases {
		if Normalize(c.a) != Normalize(c.b) {
			t.Errorf("Normalize(%q) = %q\nNormalize(%q) = %q\nwant equal", c.a, Normalize(c.a), c.b, Normalize(c.b))
		}
	}
	differ := []struct{ a, b string }{
		{"dsn=4.7.5, status=deferred (Server certificate not verified)", "dsn=4.7.4, status=deferred (Server certificate not verified)"},
		{"250 2.0.0 Ok", "250 2.1.0 Ok"},
		{"TLSv1.3", "TLSv1.2"},
		// The code is sendmail's difference, not a queue id's.
		{"stat=Sent (250 2.0.0 Ok: queued as 0CDF4200001)", "stat=Sent (Ok: queued as 0CDF4200002)"},
	}
	for _, c := range differ {
		if Normalize(c.a) == Normalize(c.b) {
			t.Errorf("Normalize made %q and %q equal (%q)", c.a, c.b, Normalize(c.a))
		}
	}
}

func TestParseStatus(t *testing.T) {
	st, ok := ParseStatus("dsn=4.7.4, status=deferred (TLS is required, but was not offered by host mx.x.test[127.0.1.2])")
	if !ok || st.DSN != "4.7.4" || st.Status != "deferred" || st.Text != "TLS is required, but was not offered by host mx.x.test[127.0.1.2]" {
		t.Errorf("ParseStatus = %+v, %v", st, ok)
	}
	if _, ok := ParseStatus("Untrusted TLS connection established to mx[127.0.0.1]:25"); ok {
		t.Errorf("ParseStatus found a status in a TLS line")
	}
	if got := (Status{DSN: "2.0.0", Status: "sent"}).String(); got != "dsn=2.0.0, status=sent" {
		t.Errorf("String = %q", got)
	}
}
