package server

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mxlab/mxlab/scenarios"
)

// backend is the go-smtp Backend of a scenario server.
type backend struct{ srv *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	bc, ok := c.Conn().(*backendConn)
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

func (s *session) Data(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	s.front.rec.Message = &MessageRecord{From: s.from, To: append([]string(nil), s.to...), Size: n}
	return nil
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
