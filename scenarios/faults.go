package scenarios

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mxlab/mxlab/internal/catalog"
)

// Fault is one thing a scenario's server does wrong at a named point of
// the session: it replaces what a healthy server does there. The server
// package implements each action as one function (server/faults.go).
type Fault struct {
	// At is the point of the session.
	At Point `yaml:"at" json:"at"`
	// Do is the action.
	Do Action `yaml:"do" json:"do"`
	// Reply is the reply to send for do: reply, in the dialect's syntax
	// ("454 4.7.0 TLS not available due to local problem"; lines
	// separated by \n); it may use the dialect's {host}, {ip}, {helo}.
	Reply string `yaml:"reply" json:"reply,omitempty"`
	// When is a condition on the ClientHello, for at: clienthello
	// (default: always).
	When Condition `yaml:"when" json:"when,omitempty"`
	// Alert is the TLS alert for do: alert (a name or a number).
	Alert string `yaml:"alert" json:"alert,omitempty"`
	// Log is what the imitated server logs, kept in the session record.
	Log string `yaml:"log" json:"log,omitempty"`
}

// Point is where in a session a fault applies.
type Point string

// Points, in the order a session meets them.
const (
	// AtConnect: on connect, before the banner.
	AtConnect Point = "connect"
	// AtBanner: after the banner.
	AtBanner Point = "banner"
	// AtEHLO: after the reply to EHLO.
	AtEHLO Point = "ehlo"
	// AtSTARTTLS: the reply to STARTTLS, instead of "220 Ready to start TLS".
	AtSTARTTLS Point = "starttls"
	// AtTLSReady: after "220 Ready to start TLS", before the ClientHello.
	AtTLSReady Point = "tls-ready"
	// AtClientHello: after the ClientHello, before the server's answer
	// (what tls.reject rules do).
	AtClientHello Point = "clienthello"
	// AtHandshake: after a completed handshake, before the client's
	// first command over TLS.
	AtHandshake Point = "handshake"
	// AtMAIL, AtRCPT and AtDATA: the reply to the command.
	AtMAIL Point = "mail"
	AtRCPT Point = "rcpt"
	AtDATA Point = "data"
	// AtDot: the reply after the final dot of the message.
	AtDot Point = "dot"
)

// Points lists every point in session order.
var Points = []Point{AtConnect, AtBanner, AtEHLO, AtSTARTTLS, AtTLSReady, AtClientHello, AtHandshake, AtMAIL, AtRCPT, AtDATA, AtDot}

// Action is what a fault does.
type Action string

// Actions.
const (
	// DoReply sends Reply; a 421 reply then closes (RFC 5321 §3.8).
	DoReply Action = "reply"
	// DoClose closes the connection with a FIN, saying nothing.
	DoClose Action = "close"
	// DoReset closes the connection with a TCP RST.
	DoReset Action = "reset"
	// DoStall says nothing and reads nothing until the client gives up
	// or the session times out (a proxy that accepts and never greets).
	DoStall Action = "stall"
	// DoAlert sends a fatal TLS alert record, then closes.
	DoAlert Action = "alert"
)

// Actions lists every action.
var Actions = []Action{DoReply, DoClose, DoReset, DoStall, DoAlert}

// validate checks a fault; key names it in errors.
func (f *Fault) validate(key string) error {
	if err := catalog.OneOf(key+".at", f.At, Points); err != nil {
		return err
	}
	if err := catalog.OneOf(key+".do", f.Do, Actions); err != nil {
		return err
	}
	switch f.Do {
	case DoReply:
		if !regexp.MustCompile(`^[2-5]\d\d[ \n]`).MatchString(f.Reply + " ") {
			return fmt.Errorf("%s.reply: %q is not an SMTP reply (a 3-digit code, a space, text)", key, f.Reply)
		}
		if f.At == AtTLSReady || f.At == AtClientHello {
			return fmt.Errorf("%s: do: reply at %s would put SMTP text where the client expects TLS", key, f.At)
		}
	case DoAlert:
		if f.At != AtTLSReady && f.At != AtClientHello {
			return fmt.Errorf("%s: do: alert belongs at tls-ready or clienthello, not %s", key, f.At)
		}
		if _, err := parseAlert(f.Alert); err != nil {
			return fmt.Errorf("%s.alert: %w", key, err)
		}
	}
	if f.Do != DoReply && f.Reply != "" {
		return fmt.Errorf("%s.reply: only do: reply sends a reply", key)
	}
	if f.Do != DoAlert && f.Alert != "" {
		return fmt.Errorf("%s.alert: only do: alert sends an alert", key)
	}
	if f.When != "" {
		if f.At != AtClientHello {
			return fmt.Errorf("%s.when: a ClientHello condition needs at: clienthello", key)
		}
		if err := catalog.OneOf(key+".when", f.When, conditions); err != nil {
			return err
		}
	}
	return nil
}

// RelTime is a signed offset from the lab's start: a Go duration, with d
// for days allowed ("-30d", "+2h", "397d").
type RelTime string

var relDays = regexp.MustCompile(`^([+-]?)(\d+)d$`)

// Duration parses the offset; "" is zero. key names it in errors.
func (r RelTime) Duration(key string) (time.Duration, error) {
	s := strings.TrimSpace(string(r))
	if s == "" {
		return 0, nil
	}
	if m := relDays.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[2])
		if err == nil && n <= 100*365 {
			d := time.Duration(n) * 24 * time.Hour
			if m[1] == "-" {
				d = -d
			}
			return d, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an offset such as -30d, 397d or 2h", key, s)
	}
	return d, nil
}
