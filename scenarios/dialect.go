package scenarios

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mxlab/mxlab/internal/catalog"
)

// Dialect is how one real SMTP server speaks: its banner, its EHLO reply,
// its reply texts and its TLS habits. Scenarios name the dialect they
// imitate; the lab's wire layer rewrites go-smtp's replies into it.
type Dialect struct {
	// Name is the identifier scenarios use in `imitates`.
	Name string `yaml:"name" json:"name,omitempty"`
	// Software names the real server and version the texts come from.
	Software string `yaml:"software" json:"software,omitempty"`
	// Sources cite where each text was measured or read.
	Sources []string `yaml:"sources" json:"sources,omitempty"`
	// Banner is the 220 greeting text after the code.
	Banner string `yaml:"banner" json:"banner,omitempty"`
	// EHLOGreeting is the text of the first line of the EHLO reply.
	EHLOGreeting string `yaml:"ehlo_greeting" json:"ehlo_greeting,omitempty"`
	// Keywords are the EHLO keywords in the server's order. STARTTLS and
	// AUTH appear only where the scenario offers them at that point.
	Keywords []string `yaml:"keywords" json:"keywords,omitempty"`
	// KeywordsAfterTLS, when set, replaces Keywords once TLS is up.
	KeywordsAfterTLS []string `yaml:"keywords_after_tls" json:"keywords_after_tls,omitempty"`
	// SizeLimit is the message size the SIZE keyword announces and the
	// lab enforces (0: no limit).
	SizeLimit int64 `yaml:"size_limit" json:"size_limit,omitempty"`
	// Limits are the real server's default protocol limits.
	Limits Limits `yaml:"limits" json:"limits,omitempty"`
	// Replies are the full reply lines ("250 2.1.0 Ok") keyed by event.
	Replies map[Reply]string `yaml:"replies" json:"replies,omitempty"`
	// QueueID is the style of the queue ids in the queued reply.
	QueueID QueueIDStyle `yaml:"queue_id" json:"queue_id,omitempty"`
	// SessionTickets says whether the real server sends TLS 1.3 session
	// tickets by default.
	SessionTickets bool `yaml:"session_tickets" json:"session_tickets,omitempty"`

	// File is where the dialect was loaded from.
	File string `yaml:"-" json:"-"`
}

// Limits are a server's protocol limits; 0 means the server has none
// (the lab then applies its own safety bound, server.Safety*).
type Limits struct {
	// Recipients is how many RCPT a message may have; the next one
	// gets the too-many-recipients reply.
	Recipients int `yaml:"recipients" json:"recipients,omitempty"`
	// Errors is how many errors a session may make before the server
	// answers too-many-errors and closes; ErrorsCounted says which.
	Errors int `yaml:"errors" json:"errors,omitempty"`
	// ErrorsCounted says what Errors counts.
	ErrorsCounted ErrorsCounted `yaml:"errors_counted" json:"errors_counted,omitempty"`
}

// ErrorsCounted says what a server's error limit counts.
type ErrorsCounted string

// What error limits count.
const (
	// ErrorReplies counts every command answered with 4xx or 5xx; once
	// the limit is reached the too-many-errors reply goes out at once,
	// before the next command is read (Postfix smtpd_hard_error_limit).
	ErrorReplies ErrorsCounted = "replies"
	// UnknownCommands counts unrecognised commands; the one over the
	// limit is answered with too-many-errors instead (sendmail's
	// MAXBADCOMMANDS, Exim's smtp_max_unknown_commands).
	UnknownCommands ErrorsCounted = "unknown-commands"
)

var errorsCounted = []ErrorsCounted{ErrorReplies, UnknownCommands}

// QueueIDStyle is how a server spells its queue ids.
type QueueIDStyle string

// Queue id styles.
const (
	// QueueIDPostfix is upper-case hex ("4A3F9984092").
	QueueIDPostfix QueueIDStyle = "postfix"
	// QueueIDSendmail is sendmail's 14 characters ("6AMK0XQk023259").
	QueueIDSendmail QueueIDStyle = "sendmail"
	// QueueIDExim is Exim 4.96's base-62 id ("1xVDXP-00028Z-0n").
	QueueIDExim QueueIDStyle = "exim"
)

var queueIDStyles = []QueueIDStyle{QueueIDPostfix, QueueIDSendmail, QueueIDExim}

// replyPlaceholders are what reply templates may use.
var replyPlaceholders = []string{"host", "helo", "ip", "rdns", "arg", "addr", "line", "queue_id", "date", "gmtdate", "limit"}

// Reply names an event the dialect has its own reply text for.
type Reply string

// Reply events. Templates may use {host} (the server's name), {helo}
// (the client's EHLO name), {ip} and {rdns} (the client's address and
// reverse name), {arg} (the command's argument), {addr} (the <address>
// of MAIL or RCPT), {line} (the command line), {queue_id}, {date}
// (RFC 5322, numeric zone) and {gmtdate} (zone "GMT", as sendmail).
const (
	ReplyHELO               Reply = "helo"
	ReplyMail               Reply = "mail"
	ReplyRcpt               Reply = "rcpt"
	ReplyData               Reply = "data"
	ReplyQueued             Reply = "queued"
	ReplyBDAT               Reply = "bdat"
	ReplyRset               Reply = "rset"
	ReplyNoop               Reply = "noop"
	ReplyVrfy               Reply = "vrfy"
	ReplyQuit               Reply = "quit"
	ReplyHelp               Reply = "help"
	ReplyEtrn               Reply = "etrn"
	ReplyExpn               Reply = "expn"
	ReplyUnknown            Reply = "unknown"
	ReplyStartTLS           Reply = "starttls"
	ReplyStartTLSNotOffered Reply = "starttls-not-offered"
	ReplyTLSActive          Reply = "tls-already-active"
	ReplyTLSRequired        Reply = "tls-required"
	ReplyAuthRequired       Reply = "auth-required"
	ReplyAuthOK             Reply = "auth-ok"
	ReplyAuthFailed         Reply = "auth-failed"
	ReplyTimeout            Reply = "timeout"
	ReplyLineTooLong        Reply = "line-too-long"
	// ReplyTooManyRecipients answers a RCPT over Limits.Recipients.
	ReplyTooManyRecipients Reply = "too-many-recipients"
	// ReplyTooManyErrors ends a session over Limits.Errors.
	ReplyTooManyErrors Reply = "too-many-errors"
	// ReplyMessageTooBig answers a message over the size limit ({limit}).
	ReplyMessageTooBig Reply = "message-too-big"
	// ReplyMailTooBig answers MAIL ... SIZE= over the size limit.
	ReplyMailTooBig Reply = "mail-too-big"
	// ReplyTooManyConnections refuses a connection over the lab's
	// connection limits ({ip}), then closes.
	ReplyTooManyConnections Reply = "too-many-connections"
)

// requiredReplies must be present in every dialect: the lab cannot speak
// without them.
var requiredReplies = []Reply{
	ReplyHELO, ReplyMail, ReplyRcpt, ReplyData, ReplyQueued, ReplyRset, ReplyNoop,
	ReplyQuit, ReplyUnknown, ReplyStartTLS, ReplyStartTLSNotOffered, ReplyTLSActive,
	ReplyTimeout,
}

var knownReplies = append(append([]Reply{}, requiredReplies...),
	ReplyBDAT, ReplyVrfy, ReplyHelp, ReplyEtrn, ReplyExpn, ReplyTLSRequired,
	ReplyAuthRequired, ReplyAuthOK, ReplyAuthFailed, ReplyLineTooLong,
	ReplyTooManyRecipients, ReplyTooManyErrors, ReplyMessageTooBig, ReplyMailTooBig, ReplyTooManyConnections)

// validate checks a dialect's keys and reply lines.
func (d *Dialect) validate() error {
	if !catalog.NameRE.MatchString(d.Name) && !strings.Contains(d.Name, ".") {
		return fmt.Errorf("name: %q is not a lowercase identifier", d.Name)
	}
	if d.Banner == "" {
		return fmt.Errorf("banner: missing")
	}
	if d.EHLOGreeting == "" {
		return fmt.Errorf("ehlo_greeting: missing")
	}
	if d.QueueID == "" {
		d.QueueID = QueueIDPostfix
	}
	if err := catalog.OneOf("queue_id", d.QueueID, queueIDStyles); err != nil {
		return err
	}
	if d.Limits.ErrorsCounted == "" {
		d.Limits.ErrorsCounted = ErrorReplies
	}
	if err := catalog.OneOf("limits.errors_counted", d.Limits.ErrorsCounted, errorsCounted); err != nil {
		return err
	}
	if d.Limits.Recipients < 0 || d.Limits.Errors < 0 {
		return fmt.Errorf("limits: recipients and errors must not be negative")
	}
	for key, tmpl := range map[string]string{"banner": d.Banner, "ehlo_greeting": d.EHLOGreeting} {
		if err := catalog.CheckTemplate(key, tmpl, replyPlaceholders...); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(d.Replies))
	for k := range d.Replies {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := catalog.OneOf("replies", Reply(k), knownReplies); err != nil {
			return err
		}
		if err := checkReplyLine(d.Replies[Reply(k)]); err != nil {
			return fmt.Errorf("replies.%s: %w", k, err)
		}
		if err := catalog.CheckTemplate("replies."+k, d.Replies[Reply(k)], replyPlaceholders...); err != nil {
			return err
		}
	}
	for _, r := range requiredReplies {
		if _, ok := d.Replies[r]; !ok {
			return fmt.Errorf("replies.%s: missing", r)
		}
	}
	return nil
}

// checkReplyLine accepts "NNN text" or a multi-line reply whose lines are
// separated by "\n", each starting with the same code.
func checkReplyLine(s string) error {
	for _, line := range strings.Split(s, "\n") {
		if len(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
			return fmt.Errorf("%q does not start with a reply code", line)
		}
		if len(line) > 3 && line[3] != ' ' {
			return fmt.Errorf("%q: the code must be followed by a space", line)
		}
		if line[:3] != s[:3] {
			return fmt.Errorf("%q: every line must carry the code %s", line, s[:3])
		}
	}
	return nil
}
