package server

import "github.com/emersion/go-sasl"

// loginServer is the server side of the obsolete but ubiquitous LOGIN
// mechanism (draft-murchison-sasl-login-00), which go-sasl implements only
// for clients: the server asks "Username:", then "Password:", and the
// client answers each. An initial response is the user name.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	haveUser bool
}

func newLoginServer(check func(user, pass string) error) sasl.Server {
	return &loginServer{check: check}
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case !l.haveUser && response == nil:
		return []byte("Username:"), false, nil
	case !l.haveUser:
		l.user, l.haveUser = string(response), true
		return []byte("Password:"), false, nil
	case response == nil:
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}
