package interop

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Delivery is one delivery attempt of one recipient, as Postfix's smtp(8)
// logs it: the status line and what the same process logged about the
// connection before it.
type Delivery struct {
	// QueueID is the message's queue id.
	QueueID string
	// To is the recipient address.
	To string
	// Relay is "host[address]:port", or "none".
	Relay string
	// Delay is the message's age at this attempt, in seconds. It is
	// shown, never used to tell attempts apart: Attempts numbers them by
	// the order of their status= lines.
	Delay float64
	// DSN is the enhanced status code ("4.7.5").
	DSN string
	// Status is sent, deferred, bounced or expired.
	Status string
	// Text is the parenthesised text after the status.
	Text string
	// TLS is the trust word of the "... TLS connection established to"
	// line logged for this relay before the status line (Trusted,
	// Untrusted, Verified, Anonymous), "" for a delivery without TLS.
	TLS string
	// Log holds the smtp process's lines since its previous status line,
	// this one included, without the syslog prefix.
	Log []string
}

// StatusText renders the part of the status line that a sender's user
// sees and that the profiles predict: "dsn=4.7.5, status=deferred (Server
// certificate not verified)".
func (d Delivery) StatusText() string {
	return "dsn=" + d.DSN + ", status=" + d.Status + " (" + d.Text + ")"
}

var (
	// syslogRE splits a maillog_file line: "Nov 22 20:45:42 client
	// postfix/smtp[21304]: message".
	syslogRE = regexp.MustCompile(`^\S+ +\d+ \d\d:\d\d:\d\d \S+ ([^\s\[]+)\[(\d+)\]: (.*)$`)
	// statusRE is smtp(8)'s per-recipient status line (postfix-3.7
	// src/global/log_adhoc.c).
	statusRE = regexp.MustCompile(`^(\w+): to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), (?:conn_use=\d+, )?delay=([\d.]+), delays=[\d./]+, dsn=(\d\.\d{1,3}\.\d{1,3}), status=(\w+) \((.*)\)$`)
	// tlsRE is the line src/tls/tls_client.c logs once a handshake
	// completed: "Verified TLS connection established to host[addr]:port: TLSv1.3 ...".
	tlsRE = regexp.MustCompile(`^(\w+) TLS connection established to (\S+): `)
)

// ParseMaillog reads a Postfix maillog_file and returns the delivery
// attempts of the smtp client, in log order. Each smtp process delivers
// one message at a time (connection caching is off,
// docs/interop-recipe.md §8.10), so its lines up to a status line belong to
// that delivery.
func ParseMaillog(r io.Reader) ([]Delivery, error) {
	var out []Delivery
	pending := map[string][]string{} // smtp pid -> lines since its last status
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m := syslogRE.FindStringSubmatch(sc.Text())
		if m == nil || !strings.HasSuffix(m[1], "/smtp") {
			continue
		}
		pid, msg := m[2], m[3]
		pending[pid] = append(pending[pid], msg)
		s := statusRE.FindStringSubmatch(msg)
		if s == nil {
			continue
		}
		d := Delivery{QueueID: s[1], To: s[2], Relay: s[3], DSN: s[5], Status: s[6], Text: s[7], Log: pending[pid]}
		d.Delay, _ = strconv.ParseFloat(s[4], 64)
		for _, l := range d.Log {
			if t := tlsRE.FindStringSubmatch(l); t != nil && t[2] == d.Relay {
				d.TLS = t[1]
			}
		}
		delete(pending, pid)
		out = append(out, d)
	}
	return out, sc.Err()
}

// Attempts are the delivery attempts of the message to rcpt, in log
// order: attempt n is the nth status= line of its queue id (the queue id
// of rcpt's first status= line) for rcpt. smtp(8) ends each attempt with
// one status line per recipient it tried (postfix-3.7 src/smtp/
// smtp_trouble.c, src/global/log_adhoc.c), so their order is that of the
// attempts, however long each took or waited.
func Attempts(ds []Delivery, rcpt string) []Delivery {
	var qid string
	var out []Delivery
	for _, d := range ds {
		if d.To != rcpt {
			continue
		}
		if qid == "" {
			qid = d.QueueID
		}
		if d.QueueID == qid {
			out = append(out, d)
		}
	}
	return out
}
