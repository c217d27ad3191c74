package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The wire layer and go-smtp take turns, never run at once: the wire
// layer hands go-smtp a command and waits for its reply. Issue 14's
// profile put a sixth of a plaintext session in the net.Pipe between
// them: a goroutine hand-off each way for every command, a deadline
// timer for each exchange, and go-smtp's greeting and a hidden EHLO
// crossing it at the start of every transaction.
//
// So once go-smtp may be needed, the session runs as a coroutine
// (iter.Pull), and go-smtp's connection is a bridge whose reads resume
// it. Until then (the banner, EHLO, STARTTLS: where an idle session
// waits) it runs on the goroutine that accepted the client, alone: a
// coroutine would add a goroutine waiting on it (issue 14: memory per
// idle connection). At the first command that may need go-smtp
// (answeredAlone), that goroutine makes the rest of the session a
// coroutine and drives it (drive) until it hands go-smtp a command; it
// then gives go-smtp a bridge and ends, and from then on go-smtp's own
// goroutine drives the session: each of its reads resumes the session
// until the session hands it the next command (toBackend). What go-smtp
// writes is kept until the session reads it (backendReply): a write
// never waits. A round trip is two coroutine switches, with no timer
// and no scheduler hand-off, and nothing can deadlock: the side that is
// not running is always waiting for the other.

// endHandOver is commands' word for "go on as a coroutine"; it is never
// recorded.
const endHandOver EndReason = "(handed over)"

// serve runs the session to its end and records it.
func (c *conn) serve() {
	c.transcript = c.srv.cfg.Sessions.start(c.rec)
	c.stopAbort = context.AfterFunc(c.ctx, c.abort)
	if c.part(c.run) != endHandOver {
		return
	}
	// The coroutine always runs to its end (its drivers resume it until
	// next says so), so iter.Pull's stop is never needed.
	c.next, _ = iter.Pull(func(yield func(struct{}) bool) {
		c.yield = yield
		c.part(c.commands)
	})
	c.drive()
}

// part runs f, a part of the session, and unless f hands the session
// over, ends it: the record, the log line, and what the session held.
// A panic in f ends the session with 421 (recoverPanic).
func (c *conn) part(f func() EndReason) (end EndReason) {
	defer func() {
		if end != endHandOver {
			c.stopAbort()
			c.srv.forget(c)
			c.parkReader()
		}
	}()
	defer c.recoverPanic()
	if end = f(); end != endHandOver {
		c.finish(end)
	}
	return end
}

// answeredAlone says whether the wire layer answers a command line
// without go-smtp when go-smtp has not started: EHLO with a domain (the
// dialect's reply, relay), STARTTLS, QUIT, and what go-smtp does not
// implement. It may say false of a line that turns out not to need
// go-smtp (a fault answers it); never true of one that does.
func answeredAlone(line string) bool {
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		return strings.TrimSpace(arg) != ""
	case "HELO", "MAIL", "RCPT", "RSET", "NOOP", "VRFY", "AUTH", "DATA", "BDAT":
		return false
	}
	return true
}

// drive runs the session until it ends or asks for go-smtp, and then
// gives go-smtp a bridge whose reads drive it from then on. It runs on
// the goroutine that accepted the client, and again on a goroutine of
// its own after STARTTLS ends go-smtp's side (stopBackend).
func (c *conn) drive() {
	for {
		if _, ok := c.next(); !ok {
			return
		}
		if c.stopping {
			// stopBackend with no go-smtp to stop (its side closed, or
			// never came): nothing to wait for.
			continue
		}
		// The session asked for go-smtp: c.toSMTP holds its first line.
		if err := c.srv.backends.hand(c.ctx, &bridge{front: c}); err != nil {
			c.backErr = err
			continue
		}
		return
	}
}

// toBackend hands p to go-smtp, starting its side of the session if
// there is none, and returns once go-smtp has read all of it and waits
// for more.
func (c *conn) toBackend(p []byte) error {
	if !c.backOn {
		c.backOn, c.greeted, c.backErr = true, false, nil
		c.fromSMTP.Reset()
	}
	if c.backErr != nil {
		return c.backErr
	}
	if c.yield == nil {
		// answeredAlone said a command needing go-smtp needs none.
		return errNotCoroutine
	}
	c.toSMTP = p
	c.yield(struct{}{})
	c.toSMTP = nil
	if c.backErr != nil && c.fromSMTP.Len() > 0 {
		// go-smtp answered, then closed its side (its 421 after a panic
		// in a handler): the answer is read; the next hand-over fails.
		return nil
	}
	return c.backErr
}

// roundTrip hands one line to go-smtp and reads its reply.
func (c *conn) roundTrip(line string) (int, []string, error) {
	if err := c.toBackend([]byte(line)); err != nil {
		return 0, nil, err
	}
	return c.backendReply()
}

// stopBackend ends go-smtp's side of the session; the next command
// starts a new one. After STARTTLS the server forgets what the client
// said (RFC 3207 §4.2), and an idle TLS session then holds no go-smtp
// goroutine or buffers (issue 14: memory per idle TLS connection).
func (c *conn) stopBackend() {
	if !c.backOn {
		return
	}
	c.stopping = true
	// go-smtp's read returns io.EOF and starts a new driver
	// (bridge.Read), which resumes the session here.
	c.yield(struct{}{})
	c.stopping, c.backOn = false, false
	c.fromSMTP.Reset()
}

// errNotCoroutine is a bug: go-smtp was needed before the session ran
// as a coroutine.
var errNotCoroutine = errors.New("server: go-smtp needed before the session runs as a coroutine")

// errNoReply: go-smtp asked for more input without answering the
// command it was given.
var errNoReply = errors.New("go-smtp read on without replying")

// backendReply reads go-smtp's reply to what it was given last, after
// its greeting, which the imitated banner replaced.
func (c *conn) backendReply() (int, []string, error) {
	if !c.greeted {
		if _, _, err := c.nextReply(); err != nil {
			return 0, nil, fmt.Errorf("greeting: %w", err)
		}
		c.greeted = true
	}
	return c.nextReply()
}

// nextReply takes one (possibly multi-line) reply from what go-smtp
// wrote.
func (c *conn) nextReply() (int, []string, error) {
	var lines []string
	for {
		l, err := c.fromSMTP.ReadString('\n')
		if err != nil {
			return 0, nil, errNoReply
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 3 {
			return 0, nil, fmt.Errorf("go-smtp wrote %q", l)
		}
		lines = append(lines, l)
		if len(l) == 3 || l[3] == ' ' {
			code, err := strconv.Atoi(l[:3])
			return code, lines, err
		}
	}
}

// bridge is go-smtp's connection for one session: reading it runs the
// session until the session hands go-smtp its next input; what go-smtp
// writes waits for the session to read it. It reports the client's
// addresses and leads back to the wire-layer session.
type bridge struct {
	front *conn
	// ended: go-smtp's side is over; reads return io.EOF.
	ended bool
	// closed: go-smtp closed the connection (Close may come from
	// go-smtp's Server.Close, on another goroutine).
	closed atomic.Bool
}

func (b *bridge) Read(p []byte) (int, error) {
	c := b.front
	for len(c.toSMTP) == 0 {
		switch {
		case b.ended:
			return 0, io.EOF
		case b.closed.Load():
			// go-smtp closed its side (after a panic in a handler): the
			// session goes on without it, driven from here.
			c.backErr, b.ended = net.ErrClosed, true
			c.drive()
			return 0, io.EOF
		case c.stopping:
			// The session asked go-smtp's side to end (stopBackend) and
			// goes on with a driver of its own; this goroutine ends, and
			// go-smtp's buffers with it.
			b.ended = true
			go c.drive()
			return 0, io.EOF
		}
		if _, ok := c.next(); !ok {
			b.ended = true
			return 0, io.EOF
		}
	}
	n := copy(p, c.toSMTP)
	c.toSMTP = c.toSMTP[n:]
	return n, nil
}

func (b *bridge) Write(p []byte) (int, error) {
	if b.ended {
		return 0, net.ErrClosed
	}
	return b.front.fromSMTP.Write(p)
}

// Close is go-smtp closing its side; the session's next read of it
// finds out.
func (b *bridge) Close() error {
	b.closed.Store(true)
	return nil
}

func (b *bridge) LocalAddr() net.Addr  { return b.front.raw.LocalAddr() }
func (b *bridge) RemoteAddr() net.Addr { return b.front.raw.RemoteAddr() }

// Deadlines are the wire layer's: go-smtp's side never waits on its own.
func (b *bridge) SetDeadline(time.Time) error      { return nil }
func (b *bridge) SetReadDeadline(time.Time) error  { return nil }
func (b *bridge) SetWriteDeadline(time.Time) error { return nil }
