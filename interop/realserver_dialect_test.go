package interop

import (
	"bufio"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// dialect is what a server says before TLS: its banner, its EHLO reply
// and its reply to STARTTLS (sent whether advertised or not), each line
// normalised (normalizeDialect).
type dialect struct {
	Banner   []string
	EHLO     []string
	STARTTLS []string
	// Spaced is what the server said to "NOOP " and "RSET ", each with
	// a space after the verb.
	Spaced []string
	// Errors is what the server said to unknown commands sent one at a
	// time until it closed (probeErrors), where probed.
	Errors []string
	Err    string
}

// probeDialect connects to addr inside the namespace as a client named
// probe.lab.test and records the dialect; it never starts the handshake.
func (w *world) probeDialect(addr string) dialect {
	var d dialect
	c, err := w.nsDialer().Dial(addr, 5*time.Second)
	if err != nil {
		d.Err = err.Error()
		return d
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	read := func() []string {
		var lines []string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				if d.Err == "" {
					d.Err = err.Error()
				}
				return lines
			}
			l = strings.TrimRight(l, "\r\n")
			lines = append(lines, normalizeDialect(l))
			if len(l) < 4 || l[3] != '-' {
				return lines
			}
		}
	}
	if d.Banner = read(); d.Err != "" {
		return d
	}
	fmt.Fprint(c, "EHLO probe.lab.test\r\n")
	if d.EHLO = read(); d.Err != "" {
		return d
	}
	// Commands with a space after the verb and nothing else: the real
	// servers split the line into words; go-smtp took "NOOP " for a
	// mangled command.
	for _, cmd := range []string{"NOOP ", "RSET "} {
		fmt.Fprint(c, cmd+"\r\n")
		if d.Spaced = append(d.Spaced, read()...); d.Err != "" {
			return d
		}
	}
	fmt.Fprint(c, "STARTTLS\r\n")
	d.STARTTLS = read()
	return d
}

var (
	// dateRE is an RFC 5322 date as Exim and sendmail put it in their
	// banners.
	dateRE = regexp.MustCompile(`(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d(?: [+-]\d{4})?(?: \([A-Z]+\))?`)
	// rdnsRE is what sendmail says about the client's reverse name:
	// "localhost" here, a host name or "[IP]" in the lab.
	rdnsWordRE = regexp.MustCompile(`\blocalhost\b`)
	versionRE  = regexp.MustCompile(`\b(\d+\.\d+\.\d+\.\d+)/`)
)

// normalizeDialect makes one reply line comparable between the lab and a
// real server: dates, host names, addresses and queue ids.
func normalizeDialect(l string) string {
	code := ""
	if len(l) >= 4 && (l[3] == '-' || l[3] == ' ') {
		code, l = l[:4], l[4:]
	}
	l = dateRE.ReplaceAllString(l, "DATE")
	l = rdnsWordRE.ReplaceAllString(l, "HOST")
	// Version numbers (Sendmail 8.17.1.9/8.17.1.9) are not addresses.
	l = versionRE.ReplaceAllString(l, "v$1/")
	return code + Normalize(l)
}

// maxProbeErrors bounds probeErrors: every imitated server closes after
// fewer bad commands (Postfix 20 errors, sendmail 25 bad commands, Exim
// 3 unknown commands).
const maxProbeErrors = 40

// probeErrors sends EHLO and then an unknown command at a time, reading
// each reply, until the server closes the connection or maxProbeErrors:
// it returns each distinct reply once, with how many commands drew it,
// the last one being the reply that closed (issue 14: the real servers'
// limits and their wordings, measured).
func (w *world) probeErrors(addr string) []string {
	c, err := w.nsDialer().Dial(addr, 5*time.Second)
	if err != nil {
		return []string{"dial: " + err.Error()}
	}
	defer c.Close()
	// Postfix sleeps smtpd_error_sleep_time (1 s) before each reply once
	// past smtpd_soft_error_limit (10): the bound allows for it.
	_ = c.SetDeadline(time.Now().Add(90 * time.Second))
	br := bufio.NewReader(c)
	read := func() (string, bool) {
		var last string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return last, false
			}
			last = normalizeDialect(strings.TrimRight(l, "\r\n"))
			if len(l) < 4 || l[3] != '-' {
				return last, true
			}
		}
	}
	if _, ok := read(); !ok {
		return []string{"no banner"}
	}
	fmt.Fprint(c, "EHLO probe.lab.test\r\n")
	if _, ok := read(); !ok {
		return []string{"no EHLO reply"}
	}
	var out []string
	count, prev := 0, ""
	for i := 0; i < maxProbeErrors; i++ {
		fmt.Fprint(c, "XYZZY frobnicate\r\n")
		reply, ok := read()
		if !ok && reply == "" {
			break
		}
		if reply != prev && prev != "" {
			out = append(out, fmt.Sprintf("%d × %s", count, prev))
			count = 0
		}
		prev = reply
		count++
		if !ok || strings.HasPrefix(reply, "421") {
			break
		}
	}
	out = append(out, fmt.Sprintf("%d × %s", count, prev))
	if _, err := br.ReadString('\n'); err != nil {
		out = append(out, "closed")
	}
	return out
}

// dialectDiffs lists how two dialects differ, part by part.
func dialectDiffs(lab, real dialect) []string {
	var diffs []string
	for _, part := range []struct {
		name string
		a, b []string
	}{{"banner", lab.Banner, real.Banner}, {"EHLO", lab.EHLO, real.EHLO}, {"STARTTLS reply", lab.STARTTLS, real.STARTTLS},
		{`replies to "NOOP " and "RSET "`, lab.Spaced, real.Spaced},
		{"unknown commands until the close", lab.Errors, real.Errors}} {
		if !slices.Equal(part.a, part.b) {
			diffs = append(diffs, fmt.Sprintf("%s: lab %q ≠ real %q", part.name, part.a, part.b))
		}
	}
	if lab.Err != real.Err {
		diffs = append(diffs, fmt.Sprintf("end: lab %q ≠ real %q", lab.Err, real.Err))
	}
	return diffs
}

func (d dialect) String() string {
	s := fmt.Sprintf("banner %q; EHLO %q; NOOP and RSET with a space %q; STARTTLS %q", d.Banner, d.EHLO, d.Spaced, d.STARTTLS)
	if d.Errors != nil {
		s += fmt.Sprintf("; unknown commands %q", d.Errors)
	}
	if d.Err != "" {
		s += "; ended: " + d.Err
	}
	return s
}
