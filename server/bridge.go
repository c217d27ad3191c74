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
// waits) it runs alone on the session's own goroutine (Server.handle's):
// a coroutine would add a goroutine waiting on it (issue 14: memory per
// idle connection). At the first command that may need go-smtp
// (answeredAlone), that goroutine makes the rest of the session a
// coroutine and drives it (drive) until it hands go-smtp a command; it
// then gives go-smtp a bridge and ends, and from then on go-smtp's own
// goroutine drives the session: each of its reads resumes the session
// until the session hands it the next command (toBackend). What go-smtp
// writes is kept until the session reads it (backendReply): a write
// never waits. A round trip is two coroutine switches, with no timer
// and no scheduler hand-off, and the two sides cannot wait for each
// other: the side that is not running is always waiting for the other.
//
// What this gives up: while go-smtp runs one of the lab's handlers
// (Data, which writes the store and the accepted file), the session is
// suspended, and neither its timeout nor Server.Close can end it until
// the handler returns. The pipe bounded that wait by 30 s and then left
// go-smtp's goroutine blocked in the write all the same.
//
// A session that became a coroutine for a command that then needed no
// go-smtp (a fault or a refusal answered it) keeps its first goroutine
// waiting in drive, and so does one after STARTTLS ended a go-smtp side
// (a new goroutine drives it): two goroutines where an idle session
// otherwise has one.

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
// the session's own goroutine, on a goroutine of its own after STARTTLS
// ended go-smtp's side (stopBackend), and on go-smtp's goroutine after
// go-smtp closed its side (bridge.Read).
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
		// in a handler, its 500 after too many errors): the answer is
		// read; the next hand-over fails.
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
	// (bridge.Read), which resumes the session here; with no go-smtp
	// side left to stop, the driver in drive's loop resumes it.
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
			// go-smtp closed its side (after a panic in a handler, or
			// after too many protocol errors): the session goes on
			// without it, driven from here, which keeps go-smtp's
			// connection until the session ends.
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
			if c.midChunk {
				// The client left in the middle of a BDAT chunk: go-smtp
				// must not take a short chunk for a whole one (it would
				// store a truncated message); an error resets its
				// transaction (RFC 3030 §3: the message is not taken).
				return 0, io.ErrUnexpectedEOF
			}
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

// Close is go-smtp closing its side; go-smtp's next read of the bridge
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
