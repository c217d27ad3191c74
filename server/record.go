package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/mxlab/mxlab/tlsalert"
)

// EndReason says how a session ended.
type EndReason string

// End reasons (docs/contracts.md, session records).
const (
	EndQuit           EndReason = "quit"
	EndReset          EndReason = "reset"
	EndTimeout        EndReason = "timeout"
	EndClosedByClient EndReason = "closed-by-client"
	EndClosedByLab    EndReason = "closed-by-lab"
)

// Record is one finished session, as kept in memory and written to the
// sessions file (one JSON object per line).
type Record struct {
	ID       string `json:"id"`
	Scenario string `json:"scenario"`
	// Via is "switchboard" for a session that came in on the switchboard
	// (Scenario is then the one it applied), "" otherwise.
	Via         string         `json:"via,omitempty"`
	Remote      string         `json:"remote"`
	Local       string         `json:"local"`
	Started     time.Time      `json:"started"`
	Ended       time.Time      `json:"ended"`
	EndReason   EndReason      `json:"end_reason"`
	ClientHello *ClientHello   `json:"client_hello"`
	TLS         *TLSState      `json:"tls"`
	AlertSent   *tlsalert.JSON `json:"alert_sent"`
	// AlertReceived is a plaintext alert the client sent during the
	// handshake (e.g. unknown_ca from a client that refuses the
	// certificate).
	AlertReceived *tlsalert.JSON `json:"alert_received,omitempty"`
	TLSError      string         `json:"tls_error,omitempty"`
	LegacyWould   *LegacyVerdict `json:"legacy_server_would"`
	// Commands are the first MaxCommands command lines; the rest are
	// only counted in CommandsOmitted, so a client that talks for ever
	// cannot grow a record (or its JSON line) without bound.
	Commands        []string       `json:"commands"`
	CommandsOmitted int            `json:"commands_omitted"`
	Counts          string         `json:"counts"`
	Auth            *AuthRecord    `json:"auth,omitempty"`
	Message         *MessageRecord `json:"message"`
	// Messages are the ids, in the message store, of every message the
	// session delivered.
	Messages []string `json:"messages"`
	// QueueIDs are the ids the lab's 250 replies gave the session's
	// messages, in order (each also in the accepted file).
	QueueIDs []string `json:"queue_ids"`
	Notes    []string `json:"notes,omitempty"`
}

// MaxCommands is how many command lines a record keeps (issue 14: one
// session of 50,000 2-KB NOOPs made a 97 MB JSON line).
const MaxCommands = 100

// addCommand keeps a command line, or counts it once the record is full.
func (r *Record) addCommand(line string) {
	if len(r.Commands) >= MaxCommands {
		r.CommandsOmitted++
		return
	}
	r.Commands = append(r.Commands, line)
}

// TLSState is the negotiated TLS, once a handshake completed.
type TLSState struct {
	Version string `json:"version"`
	Cipher  string `json:"cipher"`
	// Group is the key exchange group's IANA name (x25519, secp256r1,
	// X25519MLKEM768), "" where none was used (TLS 1.2 RSA key exchange).
	Group string `json:"group,omitempty"`
	// SNI is the server name crypto/tls saw, "" for none.
	SNI string `json:"sni,omitempty"`
}

// LegacyVerdict is what an OpenSSL-1.0-era build of the imitated server
// would have done where Go's crypto/tls cannot.
type LegacyVerdict struct {
	Action string `json:"action"`
	Cipher string `json:"cipher"`
	Why    string `json:"why"`
}

// AuthRecord is the SMTP AUTH a client performed.
type AuthRecord struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Success   bool   `json:"success"`
}

// MessageRecord is the last message a client delivered in the session.
type MessageRecord struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	Size int64    `json:"size"`
}

// counts keeps Postfix-style per-command counts: smtpd logs
// "disconnect from ... ehlo=1 starttls=0/1 commands=1/2", where a bare
// number means every such command succeeded and "ok/total" means some
// failed. The order is that of smtpd.c's command table. Arrays, not
// maps: every session has one, and two maps were 750 bytes of each
// idle session (issue 14).
type counts struct {
	total, ok [len(countOrder)]int
}

var countOrder = [...]string{"helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "unknown"}

func newCounts() *counts { return &counts{} }

// add counts one command; verbs Postfix does not know count as unknown.
func (c *counts) add(verb string, success bool) {
	i := len(countOrder) - 1 // unknown
	for j, v := range countOrder {
		if strings.EqualFold(v, verb) {
			i = j
			break
		}
	}
	c.total[i]++
	if success {
		c.ok[i]++
	}
}

func (c *counts) String() string {
	var parts []string
	var ok, total int
	for i, v := range countOrder {
		if c.total[i] == 0 {
			continue
		}
		parts = append(parts, v+"="+ratio(c.ok[i], c.total[i]))
		ok += c.ok[i]
		total += c.total[i]
	}
	parts = append(parts, "commands="+ratio(ok, total))
	return strings.Join(parts, " ")
}

func ratio(ok, total int) string {
	if ok == total {
		return fmt.Sprint(total)
	}
	return fmt.Sprintf("%d/%d", ok, total)
}
