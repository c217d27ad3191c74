package server

import (
	"github.com/mxlab/mxlab/scenarios"
)

// Limits bound what one client may do, as the imitated server does.
// Zero values take the dialect's defaults (scenarios.Dialect.Limits and
// size_limit), or the lab's safety bound where the real server has
// none; -1 turns a limit off.
type Limits struct {
	// Recipients is how many RCPT a message may have (Postfix
	// smtpd_recipient_limit, 1000).
	Recipients int
	// Errors is how many errors a session may make before it is closed
	// (Postfix smtpd_hard_error_limit, 20); the dialect says what counts.
	Errors int
	// MessageBytes is the largest message accepted (Postfix
	// message_size_limit, 10240000).
	MessageBytes int64
	// Connections caps the sessions open at once on the server, and
	// ConnectionsPerClient those from one client address (Postfix
	// smtpd_client_connection_count_limit). Off (0) by default, so that
	// load tests are not refused.
	Connections          int
	ConnectionsPerClient int
}

// Safety bounds, applied where the imitated server has no limit of its
// own (sendmail: MaxRecipientsPerMessage and MaxMessageSize are 0), so a
// client cannot grow the lab without bound.
const (
	SafetyRecipients   = 10000
	SafetyMessageBytes = 100 << 20
)

// effective resolves the configured limits against the dialect's; 0 in
// the result means no limit.
func (l Limits) effective(d *scenarios.Dialect) Limits {
	pick := func(configured, dialect, safety int64) int64 {
		switch {
		case configured < 0:
			return 0
		case configured > 0:
			return configured
		case dialect > 0:
			return dialect
		}
		return safety
	}
	return Limits{
		Recipients:           int(pick(int64(l.Recipients), int64(d.Limits.Recipients), SafetyRecipients)),
		Errors:               int(pick(int64(l.Errors), int64(d.Limits.Errors), 0)),
		MessageBytes:         pick(l.MessageBytes, d.SizeLimit, SafetyMessageBytes),
		Connections:          max(l.Connections, 0),
		ConnectionsPerClient: max(l.ConnectionsPerClient, 0),
	}
}
