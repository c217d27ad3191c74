package interop

import (
	"regexp"
	"strings"
)

// Status is the part of a Postfix status line a profile predicts.
type Status struct {
	// DSN is the enhanced status code ("4.7.5").
	DSN string
	// Status is sent, deferred or bounced.
	Status string
	// Text is the parenthesised text, "" where there is none.
	Text string
}

// statusTextRE finds "dsn=X.Y.Z, status=word (text)" in a profile's
// rendered text (sender.Report.BounceText) or a maillog line.
var statusTextRE = regexp.MustCompile(`dsn=(\d\.\d{1,3}\.\d{1,3}), status=(\w+)(?: \((.*)\))?`)

// ParseStatus finds the status part of a text; ok is false when the text
// has none (a profile message that is not a Postfix status line).
func ParseStatus(s string) (st Status, ok bool) {
	m := statusTextRE.FindStringSubmatch(s)
	if m == nil {
		return Status{}, false
	}
	return Status{DSN: m[1], Status: m[2], Text: m[3]}, true
}

// String renders the status as Postfix logs it.
func (s Status) String() string {
	out := "dsn=" + s.DSN + ", status=" + s.Status
	if s.Text != "" {
		out += " (" + s.Text + ")"
	}
	return out
}

var (
	ipPortRE = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b`)
	// A host name ends in a label of letters (a TLD), so that "2.0.0" and
	// "TLSv1.3" are left alone.
	hostRE    = regexp.MustCompile(`\b[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[A-Za-z]{2,}\b\.?`)
	portRE    = regexp.MustCompile(`\]:\d+`)
	queueIDRE = regexp.MustCompile(`(?i)\b(queued as|id=)\s*[A-Za-z0-9-]+`)
	// bareQueueIDRE is a queue id in sendmail's shape, which its 250
	// to DATA gives with no "queued as" before it: 8 characters of date
	// and time, then 6 digits ("250 2.0.0 6AMK0XQk023259 Message accepted
	// for delivery"; the lab's sendmail dialect, server/queueid.go).
	bareQueueIDRE = regexp.MustCompile(`\b[0-9A-Za-z]{8}[0-9]{6}\b`)
	spacesRE      = regexp.MustCompile(`\s+`)
)

// Normalize makes two status texts comparable across runs and between
// the lab's prediction and real Postfix: host names become HOST,
// addresses IP, ports PORT, queue ids QID, and runs of spaces one space.
func Normalize(s string) string {
	s = queueIDRE.ReplaceAllString(s, "$1 QID")
	s = bareQueueIDRE.ReplaceAllString(s, "QID")
	s = ipPortRE.ReplaceAllString(s, "IP")
	s = hostRE.ReplaceAllString(s, "HOST")
	s = portRE.ReplaceAllString(s, "]:PORT")
	return strings.TrimSpace(spacesRE.ReplaceAllString(s, " "))
}
