package server

import (
	"testing"
	"time"
)

// TestRender: every placeholder a dialect uses, an unknown name and an
// unclosed brace left as written, values not expanded again.
func TestRender(t *testing.T) {
	now := time.Date(2026, 12, 2, 11, 30, 0, 0, time.FixedZone("", 3600))
	srv := &Server{cfg: Config{Host: "mx.example.test", Now: func() time.Time { return now }}}
	v := vars{arg: "FROM:<a@b>", addr: "a@b", line: "MAIL FROM:<a@b>", queueID: "4F2A1", limit: "1000"}
	cases := []struct{ remote, helo, tmpl, want string }{
		{"127.0.0.1:4000", "c.test", "250 {host} Hello {helo} [{ip}]", "250 mx.example.test Hello c.test [127.0.0.1]"},
		{"127.0.0.1:4000", "", "250 Hello {helo} ({rdns})", "250 Hello unknown (localhost)"},
		{"[::1]:4000", "c", "{ip} {rdns}", "IPv6:::1 localhost"},
		{"192.0.2.1:25", "c", "{rdns}", "[192.0.2.1]"},
		{"127.0.0.1:1", "c", "{arg}|{addr}|{line}|{queue_id}|{limit}", "FROM:<a@b>|a@b|MAIL FROM:<a@b>|4F2A1|1000"},
		{"127.0.0.1:1", "c", "{date} / {gmtdate}", "Wed, 02 Dec 2026 11:30:00 +0100 / Wed, 02 Dec 2026 10:30:00 GMT"},
		{"127.0.0.1:1", "c", "{nope} {host", "{nope} {host"},
		{"127.0.0.1:1", "{host}", "{helo}", "{host}"},
		{"127.0.0.1:1", "c", "no placeholders", "no placeholders"},
	}
	for _, tc := range cases {
		c := &conn{srv: srv, helo: tc.helo, rec: Record{Remote: tc.remote}}
		if got := c.render(tc.tmpl, v); got != tc.want {
			t.Errorf("render(%q) with %s = %q, want %q", tc.tmpl, tc.remote, got, tc.want)
		}
	}
}
