package server

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/scenarios"
)

// backend is the go-smtp Backend of a scenario server.
type backend struct{ srv *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	bc, ok := c.Conn().(*bridge)
	if !ok {
		return nil, errors.New("server: connection did not come through the wire layer")
	}
	return &session{front: bc.front}, nil
}

// session holds one SMTP transaction's state on the go-smtp side; the
// policy (TLS and AUTH required, credentials) is the scenario's.
type session struct {
	front *conn
	from  string
	to    []string
}

// smtpError renders a dialect reply as the error go-smtp writes; go-smtp
// checks with a type assertion, so it must be *smtp.SMTPError itself.
func (s *session) smtpError(key scenarios.Reply, fallback string) *smtp.SMTPError {
	text, ok := s.front.srv.cfg.Dialect.Replies[key]
	if !ok {
		text = fallback
	}
	text = s.front.render(text, vars{})
	code, _ := strconv.Atoi(text[:3])
	e := &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: strings.TrimSpace(text[3:])}
	return e
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	sc := s.front.srv.cfg.Scenario
	if a := sc.SMTP.Auth; a != nil && a.Required && !s.front.authed {
		return s.smtpError(scenarios.ReplyAuthRequired, "530 5.7.0 Authentication required")
	}
	s.from = from
	s.to = nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data takes a message and, when the lab keeps messages, stores it
// before returning: go-smtp writes the 250 only after Data returns, so a
// message acknowledged is a message stored (fsynced with a spool). The
// wire layer read the body (conn.keepBody); go-smtp's reader holds only
// the end-of-data line.
func (s *session) Data(r io.Reader) error {
	body, err := s.front.takeBody(r)
	if err != nil {
		return err
	}
	rec := &s.front.rec
	rec.Message = &MessageRecord{From: s.from, To: append([]string(nil), s.to...), Size: int64(len(body))}
	cfg := s.front.srv.cfg
	now := cfg.Now()
	env := msgstore.Envelope{Session: rec.ID, Scenario: rec.Scenario, From: s.from, To: rec.Message.To, Received: now}
	// The queue id the 250 will give, in the accepted file before the
	// 250 leaves: a message acknowledged is a message on record.
	qid := s.front.srv.queueID()
	accepted := Accepted{QueueID: qid, Session: rec.ID, Scenario: rec.Scenario, From: s.from,
		To: rec.Message.To, Size: rec.Message.Size, Time: now.UTC()}
	var stored string
	var what string
	err = s.front.whileAlive(func(gone *atomic.Bool) error {
		if cfg.Messages != nil {
			m, err := cfg.Messages.Deliver(env, body)
			if err != nil {
				what = "storing the message"
				return err
			}
			stored = m.ID
		}
		if a := cfg.Accepted; a != nil && !gone.Load() {
			accepted.Message = stored
			if err := a.add(accepted); err != nil {
				what = "recording the message"
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errSessionGone) {
		s.front.bodyLent = true
		return s.queueFileError("storing the message", err)
	}
	if err != nil {
		return s.queueFileError(what, err)
	}
	if stored != "" {
		rec.Messages = append(rec.Messages, stored)
	}
	s.front.queueID = qid
	rec.QueueIDs = append(rec.QueueIDs, qid)
	return nil
}

// errSessionGone: the session ended (its timeout, the lab's Close) while
// the message was being written.
var errSessionGone = errors.New("the session ended before the message was written")

// whileAlive runs write, which keeps a message, on a goroutine of its
// own and waits for it or for the end of the session. go-smtp's Data runs
// while the session waits for go-smtp (bridge.go): a write that never
// returns (a hung disk) would otherwise hold the session past its
// timeout and the lab's Close past its end. A write left behind goes on
// and ends on its own; gone tells it the session is over, so that it
// records no acceptance the client was never given.
//
// A panic in write is raised again here, where go-smtp's handler
// recovers it as before (its 421); one after the session is gone is
// logged.
func (c *conn) whileAlive(write func(gone *atomic.Bool) error) error {
	type outcome struct {
		err      error
		panicked any
		stack    []byte
	}
	var gone atomic.Bool
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				if gone.Load() {
					c.srv.cfg.Logger.Error(fmt.Sprintf("%s %s: panic in a message write left behind: %v", c.rec.Scenario, c.rec.ID, p),
						"stack", string(debug.Stack()))
				}
				done <- outcome{panicked: p, stack: debug.Stack()}
			}
		}()
		done <- outcome{err: write(&gone)}
	}()
	select {
	case o := <-done:
		if o.panicked != nil {
			panic(fmt.Sprintf("%v (writing the message)\n%s", o.panicked, o.stack))
		}
		return o.err
	case <-c.ctx.Done():
		gone.Store(true)
		return errSessionGone
	}
}

// queueFileError logs why a message could not be kept and answers as
// Postfix does when its queue file cannot be written (cleanup_strerror:
// "queue file write error").
func (s *session) queueFileError(what string, err error) *smtp.SMTPError {
	rec := &s.front.rec
	s.front.srv.cfg.Logger.Error(rec.Scenario+" "+rec.ID+": "+what+": "+err.Error(), "remote", rec.Remote)
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: queue file write error"}
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// AuthMechanisms lists what EHLO would offer now.
func (s *session) AuthMechanisms() []string {
	if !s.front.authOffered() {
		return nil
	}
	return s.front.srv.cfg.Scenario.SMTP.Auth.Mechanisms
}

// Auth accepts PLAIN and LOGIN (go-sasl): any credentials, or only the
// scenario's users, and records who authenticated.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.front.authOffered() {
		return nil, s.smtpError(scenarios.ReplyUnknown, "503 5.5.1 Error: authentication not enabled")
	}
	check := func(user, pass string) error {
		users := s.front.srv.cfg.Scenario.SMTP.Auth.Users
		ok := len(users) == 0 || (users[user] == pass && pass != "")
		s.front.rec.Auth = &AuthRecord{Mechanism: mech, Username: user, Success: ok}
		if !ok {
			return s.smtpError(scenarios.ReplyAuthFailed, "535 5.7.8 Error: authentication failed")
		}
		s.front.authed = true
		return nil
	}
	for _, m := range s.AuthMechanisms() {
		if !strings.EqualFold(m, mech) {
			continue
		}
		switch strings.ToUpper(mech) {
		case sasl.Plain:
			return sasl.NewPlainServer(func(identity, user, pass string) error {
				if identity != "" && identity != user {
					return s.smtpError(scenarios.ReplyAuthFailed, "535 5.7.8 Error: authentication failed")
				}
				return check(user, pass)
			}), nil
		case sasl.Login:
			return newLoginServer(check), nil
		}
	}
	return nil, smtp.ErrAuthUnknownMechanism
}
