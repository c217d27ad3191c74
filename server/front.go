package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxlab/mxlab/scenarios"
)

// conn is one client session in the wire layer.
type conn struct {
	srv *Server
	raw net.Conn // the client's TCP connection

	client net.Conn      // raw, or the TLS connection over it
	br     *bufio.Reader // nil while a plaintext session waits with nothing buffered (reader.go)
	bw     *bufio.Writer
	// waitFD is the socket a waiting session reads without blocking,
	// -1 otherwise; readErr is what that read found for the next read
	// to report (reader.go).
	waitFD  int
	readErr error
	// held is the byte a waiting TLS session read, heldN whether it
	// holds one, for the reader's next read (reader.go).
	held  [1]byte
	heldN int
	// sock and readable are what waiting on the plaintext socket takes,
	// made at the first wait (reader_unix.go).
	sock     syscall.RawConn
	readable func(fd uintptr) bool
	tls      *tls.Conn

	// go-smtp's side of the session (bridge.go): next resumes the
	// session, yield suspends it; toSMTP is what go-smtp reads next,
	// fromSMTP what it wrote and the session has not read yet.
	next     func() (struct{}, bool)
	yield    func(struct{}) bool
	backOn   bool  // go-smtp has a connection for the session
	greeted  bool  // go-smtp's greeting was read (and dropped)
	stopping bool  // the session asked go-smtp's side to end
	backErr  error // why go-smtp's side cannot go on
	// pending is the command that made the session a coroutine,
	// handedOver says it is still to be handled.
	pending    string
	handedOver bool
	midChunk   bool        // a BDAT chunk is being handed to go-smtp (copyChunk)
	stopAbort  func() bool // stops the session timeout's abort
	toSMTP     []byte
	fromSMTP   bytes.Buffer

	rec        Record
	transcript *Transcript
	trace      tlsTrace
	counts     *counts
	helo       string
	authed     bool
	queueID    string // the id of the message go-smtp's Data took last
	rcpts      int    // recipients accepted in the transaction
	errors     int    // commands answered 4xx or 5xx
	unknown    int    // unrecognised commands
	client4    string // the client's address, for the connection limits
	refused    bool   // over a connection limit: refused before the banner
	// credsMayFollow is set after an AUTH refused at once: a pipelining
	// client has already sent its SASL responses (credentials), which
	// arrive as lines that are no command. secretInput hides the line
	// being read from notes.
	credsMayFollow bool
	secretInput    bool
	authRefused    bool // the AUTH being handled was refused at once
	// dataRule and dataDelay are the data rule a recipient's address
	// chose for the transaction (faults.go).
	dataRule   string
	dataDelay  time.Duration
	body       []byte // the DATA body read, dot-stuffing undone
	bodyHeld   bool   // body holds the message go-smtp's Data is taking
	bodyOver   bool   // the body went past the size limit
	bodyLent   bool   // a write Data gave up on may still read the body
	resetByLab bool   // a fault closes with RST: no close_notify

	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	abortd bool
	mu     sync.Mutex
}

var errLineTooLong = errors.New("line too long")

// preTLS are the commands a server that requires TLS still takes before
// STARTTLS (Postfix smtpd.c: SMTPD_CMD_FLAG_PRE_TLS).
var preTLS = map[string]bool{"HELO": true, "EHLO": true, "STARTTLS": true, "NOOP": true, "QUIT": true}

// knownVerbs are the commands the wire layer or go-smtp implement.
var knownVerbs = map[string]bool{"HELO": true, "EHLO": true, "MAIL": true, "RCPT": true, "RSET": true, "NOOP": true,
	"VRFY": true, "AUTH": true, "DATA": true, "BDAT": true, "QUIT": true, "STARTTLS": true, "ETRN": true, "HELP": true, "EXPN": true}

func newConn(s *Server, nc net.Conn, via string) *conn {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeouts.Session)
	c := &conn{
		srv: s, raw: nc, client: nc,
		waitFD: -1,
		counts: newCounts(),
		ctx:    ctx, cancel: cancel,
	}
	c.rec = Record{
		ID:       s.cfg.Sessions.newID(),
		Scenario: s.cfg.Scenario.Name,
		Via:      via,
		Remote:   nc.RemoteAddr().String(),
		Local:    nc.LocalAddr().String(),
		Started:  s.cfg.Now().UTC(),
		Commands: []string{},
		Messages: []string{},
		QueueIDs: []string{},
	}
	return c
}

// abort ends the session from outside (lab shutdown, session timeout).
func (c *conn) abort() {
	c.mu.Lock()
	c.abortd = true
	c.mu.Unlock()
	c.raw.Close()
	// What waits on the session's context (a message being written,
	// whileAlive; a slow-data delay) gives up too.
	c.cancel()
}

func (c *conn) aborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.abortd
}

// recoverPanic ends a session that panicked as go-smtp does its own
// (conn.handlePanic): a 421, the stack in the log, and the lab goes on
// serving every other session. Without it one panic stopped every
// scenario (issue 14).
func (c *conn) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	c.srv.cfg.Logger.Error(fmt.Sprintf("%s %s: panic: %v", c.rec.Scenario, c.rec.ID, p),
		"remote", c.rec.Remote, "stack", string(debug.Stack()))
	c.note("panic: %v (the stack is in the lab's log)", p)
	c.write([]string{"421 4.3.0 " + c.srv.cfg.Host + " Error: internal error in the lab, closing connection"})
	_ = c.flush()
	c.finish(EndClosedByLab)
}

// run is the command loop; it returns why the session ended.
func (c *conn) run() EndReason {
	if c.refused {
		return c.refuse()
	}
	if end, done, ok := c.fault(scenarios.AtConnect); done {
		return end
	} else if !ok {
		c.reply(c.banner())
	}
	if err := c.flush(); err != nil {
		return c.endFromError(err)
	}
	if end, done, _ := c.fault(scenarios.AtBanner); done {
		return end
	}
	return c.commands()
}

// commands is the command loop; it returns why the session ended, or
// endHandOver at the first command go-smtp may have to answer while the
// session does not run as a coroutine yet (bridge.go). Run again in the
// coroutine, it takes that command first.
func (c *conn) commands() EndReason {
	for {
		var line string
		if c.handedOver {
			line, c.handedOver = c.pending, false
		} else {
			var err error
			line, err = c.readLine(c.srv.cfg.Timeouts.Command)
			if errors.Is(err, errLineTooLong) {
				c.rec.addCommand("(line too long)")
				c.lineStep(FromClient, "(line too long)")
				c.count("unknown", false)
				if code := c.replyKey(scenarios.ReplyLineTooLong, scenarios.ReplyUnknown, vars{}); code == 421 {
					// 421 means the server closes (RFC 5321 §3.8); sendmail does.
					_ = c.flush()
					return EndClosedByLab
				}
				if end, done := c.errorLimit(); done {
					return end
				}
				if err := c.flushIfIdle(); err != nil {
					return c.endFromError(err)
				}
				continue
			}
			if err != nil {
				return c.endFromError(err)
			}
			if c.yield == nil && !answeredAlone(line) {
				c.pending, c.handedOver = line, true
				return endHandOver
			}
		}
		if end, done := c.dispatch(line); done {
			return end
		}
		if end, done := c.errorLimit(); done {
			return end
		}
		if err := c.flushIfIdle(); err != nil {
			return c.endFromError(err)
		}
	}
}

// dispatch handles one command line; done ends the session.
func (c *conn) dispatch(line string) (EndReason, bool) {
	if h := c.srv.cfg.commandHook; h != nil {
		h(line)
	}
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	arg = strings.TrimSpace(arg)
	shown := redact(verb, line)
	if c.credsMayFollow {
		if knownVerbs[verb] {
			c.credsMayFollow = false
		} else {
			// Most likely a SASL response to the refused AUTH: neither
			// the record nor the transcript keeps it (RFC 4954 §4).
			shown = "***"
		}
	}
	c.rec.addCommand(shown)
	c.lineStep(FromClient, shown)
	if verb == "AUTH" {
		defer func() { c.credsMayFollow = c.authRefused }()
		c.authRefused = true // until relayAuth sees a 334 or 235
	}
	if c.srv.cfg.Scenario.SMTP.RequireTLS && c.tls == nil && !preTLS[verb] && knownVerbs[verb] {
		// Postfix with TLS enforced answers every command that is not
		// flagged SMTPD_CMD_FLAG_PRE_TLS in smtpd.c's table with 530
		// (measured: testdata/transcripts/postfix-encrypt.txt).
		c.count(verb, false)
		c.replyKey(scenarios.ReplyTLSRequired, "", vars{})
		return "", false
	}
	if shown == "***" {
		// The imitated server may echo the line (sendmail's 500
		// "Command unrecognized: ..."): on the wire, not in the transcript.
		c.count("unknown", false)
		c.unknown++
		if end, done := c.unknownLimit(); done {
			return end, done
		}
		c.writeHiding(c.dialectLines(c.srv.cfg.Dialect, scenarios.ReplyUnknown, vars{arg: arg, line: line}, nil), line, arg)
		return "", false
	}
	if p, ok := commandPoints[verb]; ok {
		if end, done, ok := c.fault(p); ok {
			c.count(verb, false)
			return end, done
		}
	}
	if verb == "MAIL" || verb == "RCPT" {
		if end, done, ok := c.addressFault(verb, arg); ok {
			return end, done
		}
	}
	switch verb {
	case "STARTTLS":
		return c.startTLS()
	case "HELO", "EHLO", "MAIL", "RCPT", "RSET", "NOOP", "VRFY", "AUTH", "DATA", "BDAT", "QUIT":
		return c.relay(verb, arg, line)
	case "ETRN", "HELP", "EXPN":
		if text, ok := c.srv.cfg.Dialect.Replies[scenarios.Reply(strings.ToLower(verb))]; ok {
			code := c.reply(splitReply(c.render(text, vars{arg: arg, line: line})))
			c.count(verb, code < 400)
			return "", false
		}
	}
	c.count("unknown", false)
	c.unknown++
	if end, done := c.unknownLimit(); done {
		return end, done
	}
	c.replyKey(scenarios.ReplyUnknown, "", vars{arg: arg, line: line})
	return "", false
}

// unknownLimit closes the session on the unrecognised command over the
// limit: sendmail (MAXBADCOMMANDS) and Exim (smtp_max_unknown_commands)
// answer it with their closing reply.
func (c *conn) unknownLimit() (EndReason, bool) {
	if l := c.srv.cfg.Limits.Errors; l > 0 && c.srv.cfg.Dialect.Limits.ErrorsCounted == scenarios.UnknownCommands && c.unknown > l {
		c.write(c.limitReply(scenarios.ReplyTooManyErrors, vars{}))
		_ = c.flush()
		return EndClosedByLab, true
	}
	return "", false
}

// writeHiding writes reply lines as they are, and to the transcript with
// every secret replaced by ***.
func (c *conn) writeHiding(lines []string, secrets ...string) {
	for _, l := range lines {
		bw := c.out()
		bw.WriteString(l)
		bw.WriteString("\r\n")
		for _, s := range secrets {
			if s != "" {
				l = strings.ReplaceAll(l, s, "***")
			}
		}
		c.lineStep(FromServer, l)
	}
}

// refuse answers a connection over a connection limit instead of the
// banner, as Postfix's smtpd does when anvil reports too many
// connections from the client (smtpd_client_connection_count_limit),
// and closes it.
func (c *conn) refuse() EndReason {
	c.note("refused: over the connection limit (%d in total, %d per client)", c.srv.cfg.Limits.Connections, c.srv.cfg.Limits.ConnectionsPerClient)
	c.write(c.limitReply(scenarios.ReplyTooManyConnections, vars{}))
	if err := c.flush(); err != nil {
		return c.endFromError(err)
	}
	return EndClosedByLab
}

// errorLimit closes a session that has made as many errors as Postfix
// allows (smtpd_hard_error_limit): smtpd checks before reading each
// command, so the 421 follows the reply to the last error at once.
func (c *conn) errorLimit() (EndReason, bool) {
	l := c.srv.cfg.Limits.Errors
	if l <= 0 || c.srv.cfg.Dialect.Limits.ErrorsCounted == scenarios.UnknownCommands || c.errors < l {
		return "", false
	}
	c.write(c.limitReply(scenarios.ReplyTooManyErrors, vars{}))
	_ = c.flush()
	return EndClosedByLab, true
}

// count counts a command for the record and the error limit.
func (c *conn) count(verb string, ok bool) {
	c.counts.add(verb, ok)
	if !ok {
		c.errors++
	}
}

// limitFallbacks are Postfix's texts, for a dialect without its own.
var limitFallbacks = map[scenarios.Reply]string{
	scenarios.ReplyTooManyRecipients:  "452 4.5.3 Error: too many recipients",
	scenarios.ReplyTooManyErrors:      "421 4.7.0 {host} Error: too many errors",
	scenarios.ReplyMessageTooBig:      "552 5.3.4 Error: message file too big",
	scenarios.ReplyMailTooBig:         "552 5.3.4 Message size exceeds fixed limit",
	scenarios.ReplyTooManyConnections: "421 4.7.0 {host} Error: too many connections from {ip}",
}

// limitReply renders the dialect's reply to a limit, or Postfix's.
func (c *conn) limitReply(key scenarios.Reply, v vars) []string {
	text, ok := c.srv.cfg.Dialect.Replies[key]
	if !ok {
		text = limitFallbacks[key]
	}
	v.limit = strconv.FormatInt(c.srv.cfg.Limits.MessageBytes, 10)
	return splitReply(c.render(text, v))
}

// relay passes a command to go-smtp and its reply, in the dialect, back.
func (c *conn) relay(verb, arg, line string) (EndReason, bool) {
	if verb == "BDAT" {
		return c.relayBDAT(arg, line)
	}
	if l := c.srv.cfg.Limits.Recipients; verb == "RCPT" && l > 0 && c.rcpts >= l {
		// Postfix's rcpt_cmd answers 452 and counts it a success
		// (smtpd_recipient_overshoot_limit); go-smtp never sees it.
		c.count(verb, true)
		c.write(c.limitReply(scenarios.ReplyTooManyRecipients, vars{arg: arg, line: line, addr: angleAddr(arg)}))
		return "", false
	}
	if verb == "QUIT" {
		// go-smtp has nothing to add: its 221 was always replaced, and
		// the session's end ends its side. One round trip fewer.
		c.count(verb, true)
		// finish sends the 221 once the record is written.
		c.write(c.dialectLines(c.srv.cfg.Dialect, scenarios.ReplyQuit, vars{arg: arg, line: line}, []string{"221 2.0.0 Bye"}))
		return EndQuit, true
	}
	if verb == "EHLO" && !c.backOn && arg != "" {
		// go-smtp would answer 250 (handleGreet: any non-empty domain)
		// and its reply is replaced by the dialect's: the wire layer
		// answers, and go-smtp hears the greeting when a command needs
		// it (below). A TLS session then starts go-smtp only after
		// STARTTLS, and an alert scenario never does.
		c.resetTransaction()
		c.helo = firstField(arg)
		c.count(verb, true)
		c.write(c.ehloLines())
		return "", false
	}
	if !c.backOn && c.helo != "" && verb != "HELO" && verb != "EHLO" {
		// go-smtp's side has not heard the client's EHLO (answered
		// above, or given before STARTTLS) and wants one before MAIL;
		// the imitated servers do not ask again (Postfix:
		// smtpd_helo_required = no). go-smtp hears it; the client sees
		// nothing.
		if _, _, err := c.roundTrip("EHLO " + c.helo + "\r\n"); err != nil {
			return c.backendGone(err)
		}
	}
	if f := c.dotFault(); verb == "DATA" && f != nil && c.rcpts > 0 {
		// The message will be refused: go-smtp must not take it.
		return c.refuseData(f)
	}
	code, lines, err := c.roundTrip(smtpLine(verb, arg))
	if err != nil {
		return c.backendGone(err)
	}
	d := c.srv.cfg.Dialect
	v := vars{arg: arg, line: line}
	switch verb {
	case "EHLO":
		if code == 250 {
			c.resetTransaction()
			c.helo = firstField(arg)
			lines = c.ehloLines()
		}
	case "HELO":
		if code == 250 {
			c.resetTransaction()
			c.helo = firstField(arg)
			lines = c.dialectLines(d, scenarios.ReplyHELO, v, lines)
		}
	case "MAIL", "RCPT":
		v.addr = angleAddr(arg)
		switch {
		case code < 300 && verb == "MAIL":
			c.resetTransaction()
		case code < 300:
			c.rcpts++
		case code == 552 && verb == "MAIL":
			// go-smtp refuses SIZE= over MaxMessageBytes.
			lines = c.limitReply(scenarios.ReplyMailTooBig, v)
		}
		if code < 300 {
			lines = c.dialectLines(d, scenarios.Reply(strings.ToLower(verb)), v, lines)
		}
	case "RSET", "NOOP", "VRFY":
		if verb == "RSET" {
			c.resetTransaction()
		}
		if code < 300 {
			lines = c.dialectLines(d, scenarios.Reply(strings.ToLower(verb)), v, lines)
		}
	case "AUTH":
		return c.relayAuth(arg, code, lines)
	case "DATA":
		if code == 354 {
			c.write(c.dialectLines(d, scenarios.ReplyData, v, lines))
			if err := c.flush(); err != nil {
				return c.endFromError(err), true
			}
			// The body stays in the wire layer: go-smtp gets only the
			// end-of-data line and Data takes the body from c.body.
			// Relaying it line by line through the pipe that then joined
			// them cost most of a plaintext session (issue 14's profile).
			buf := bodies.Get().(*[]byte)
			c.body, c.bodyOver = (*buf)[:0], false
			readErr := c.readBody(c.keepBody)
			if readErr == nil {
				c.bodyHeld = true
				code, lines, err = c.roundTrip(".\r\n")
			}
			c.releaseBody(buf)
			if readErr != nil {
				return c.endFromError(readErr), true
			}
			if err != nil {
				return c.backendGone(err)
			}
			if err := c.slowData(); err != nil {
				return c.endFromError(err), true
			}
			c.resetTransaction() // go-smtp resets the transaction after DATA
			switch code {
			case 250:
				v.queueID = c.queueID
				lines = c.dialectLines(d, scenarios.ReplyQueued, v, lines)
			case 552:
				lines = c.limitReply(scenarios.ReplyMessageTooBig, v)
			}
		}
	}
	c.count(verb, code < 400)
	c.write(lines)
	return "", false
}

// smtpLine is the command line go-smtp is handed: the verb and its
// argument with the whitespace around it dropped. go-smtp refuses a
// five-byte line ("NOOP ", "DATA ") as mangled, with 501, and closes
// after its fourth such error; the imitated servers split the line into
// words and take it (found by review; measured against the real servers
// in interop's dialect probe).
func smtpLine(verb, arg string) string {
	if arg == "" {
		return verb + "\r\n"
	}
	return verb + " " + arg + "\r\n"
}

// relayBDAT sends the BDAT line and its chunk (RFC 3030 §2): the chunk
// follows the command at once, without waiting for a reply, and comes
// even when the command is refused, so it is always read: passed to
// go-smtp when go-smtp takes the command's syntax (it reads or discards
// the chunk then), discarded here when it does not. go-smtp may write
// its refusal before it reads the chunk (BDAT without MAIL, a chunk over
// the size limit); its writes never wait (bridge.go), so neither side
// waits for the other (issue 14: a 30 s hang ending as timeout).
func (c *conn) relayBDAT(arg, line string) (EndReason, bool) {
	fields := strings.Fields(arg)
	var size uint64
	chunked := false
	if len(fields) > 0 {
		var err error
		size, err = strconv.ParseUint(fields[0], 10, 32)
		chunked = err == nil
	}
	forward := chunked && (len(fields) == 1 || len(fields) == 2 && strings.EqualFold(fields[1], "LAST"))
	if err := c.toBackend([]byte(smtpLine("BDAT", arg))); err != nil {
		return c.backendGone(err)
	}
	if chunked {
		var err error
		if forward {
			var backErr error
			if err, backErr = c.copyChunk(int64(size)); backErr != nil {
				return c.backendGone(backErr)
			}
		} else {
			err = c.discardChunk(int64(size))
		}
		if err != nil {
			return c.endFromError(err), true
		}
		c.step(Step{From: FromClient, Kind: StepBody, Text: fmt.Sprintf("%d bytes", size), Size: int64(size), TLS: c.tls != nil})
	}
	code, lines, err := c.backendReply()
	if err != nil {
		return c.backendGone(err)
	}
	last := len(fields) == 2 && strings.EqualFold(fields[1], "LAST")
	if last || code == 552 {
		c.resetTransaction() // the transaction ends (go-smtp resets after an over-size chunk)
	}
	if code == 552 {
		lines = c.limitReply(scenarios.ReplyMessageTooBig, vars{})
	}
	if code == 250 {
		v := vars{arg: fields[0]}
		if last {
			v.queueID = c.queueID
			lines = c.dialectLines(c.srv.cfg.Dialect, scenarios.ReplyQueued, v, lines)
		} else {
			lines = c.dialectLines(c.srv.cfg.Dialect, scenarios.ReplyBDAT, v, lines)
		}
	}
	c.count("BDAT", code < 400)
	c.write(lines)
	return "", false
}

// relayAuth carries the SASL exchange (334 challenges and the client's
// answers, which are not commands) between client and go-smtp.
func (c *conn) relayAuth(arg string, code int, lines []string) (EndReason, bool) {
	c.authRefused = code != 334 && code >= 400
	for code == 334 {
		c.write(lines)
		if err := c.flush(); err != nil {
			return c.endFromError(err), true
		}
		c.secretInput = true
		resp, err := c.readLine(c.srv.cfg.Timeouts.Command)
		c.secretInput = false
		if err != nil {
			return c.endFromError(err), true
		}
		// A SASL response carries credentials (RFC 4954 §4): never kept.
		c.lineStep(FromClient, "***")
		if code, lines, err = c.roundTrip(resp + "\r\n"); err != nil {
			return c.backendGone(err)
		}
	}
	if code == 235 {
		lines = c.dialectLines(c.srv.cfg.Dialect, scenarios.ReplyAuthOK, vars{arg: arg}, lines)
	}
	c.count("AUTH", code < 400)
	c.write(lines)
	return "", false
}

// readBody passes the DATA body to sink (nil: nowhere) up to the lone
// "." line (RFC 5321 §4.1.1.4), which it does not pass. A chunk is a
// line or, for a line longer than the buffer, part of one; lineStart
// says whether it begins a line.
func (c *conn) readBody(sink func(chunk []byte, lineStart bool)) error {
	atLineStart := true
	var size int64
	defer func() {
		c.step(Step{From: FromClient, Kind: StepBody, Text: fmt.Sprintf("%d bytes", size), Size: size, TLS: c.tls != nil})
	}()
	for {
		c.armRead(c.srv.cfg.Timeouts.Command)
		chunk, err := c.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		size += int64(len(chunk))
		if atLineStart && (bytes.Equal(chunk, []byte(".\r\n")) || bytes.Equal(chunk, []byte(".\n"))) {
			return nil
		}
		if sink != nil {
			sink(chunk, atLineStart)
		}
		atLineStart = err == nil // a full buffer ends mid-line
	}
}

// keepBody collects the message for Data with its dot-stuffing undone
// (RFC 5321 §4.5.2: a leading dot is removed, as go-smtp's dataReader
// and net/textproto do). Past the size limit it only notes that the
// message is too big: memory stays bounded by the limit.
func (c *conn) keepBody(chunk []byte, lineStart bool) {
	if lineStart && chunk[0] == '.' {
		chunk = chunk[1:]
	}
	if l := c.srv.cfg.Limits.MessageBytes; l > 0 && int64(len(c.body)+len(chunk)) > l {
		c.bodyOver = true
		return
	}
	c.body = append(c.body, chunk...)
}

// bodies are the buffers DATA bodies are read into: a 10 KiB message
// read into a new slice cost 43 KiB of allocations as it grew.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody: a larger buffer (a message near the size limit) is left
// to the garbage collector rather than kept in the pool.
const maxPooledBody = 1 << 20

// releaseBody gives the body's buffer back once Data is done with it;
// the store keeps a copy (msgstore.Store.Deliver). A body a write left
// behind may still be reading (whileAlive) is left to the collector.
func (c *conn) releaseBody(buf *[]byte) {
	if cap(c.body) <= maxPooledBody && !c.bodyLent {
		*buf = c.body[:0]
		bodies.Put(buf)
	}
	c.bodyHeld, c.body, c.bodyLent = false, nil, false
}

// takeBody is the message go-smtp's Data is taking: the body the wire
// layer read for DATA, or r's content for BDAT (go-smtp joins the
// chunks). Past the size limit it is go-smtp's own error, which the wire
// layer answers in the dialect's words.
func (c *conn) takeBody(r io.Reader) ([]byte, error) {
	// go-smtp calls Data as soon as it sends 354: only once r is read to
	// its end has the wire layer said which body it is.
	own, err := io.ReadAll(r)
	if err != nil || !c.bodyHeld {
		return own, err
	}
	if c.bodyOver {
		return nil, smtp.ErrDataTooLarge
	}
	return c.body, nil
}

// armRead sets the read deadline before a read that may wait on the
// network: when the buffer already holds a whole line, the next
// ReadSlice does not read, and a deadline per body line cost as much as
// the line (issue 14's profile).
func (c *conn) armRead(timeout time.Duration) {
	if n := c.br.Buffered(); n > 0 {
		if buf, _ := c.br.Peek(n); bytes.IndexByte(buf, '\n') >= 0 {
			return
		}
	}
	c.client.SetReadDeadline(time.Now().Add(timeout))
}

// discardChunk reads a chunk go-smtp will not read.
func (c *conn) discardChunk(n int64) error {
	c.client.SetReadDeadline(time.Now().Add(c.srv.cfg.Timeouts.Command))
	_, err := io.CopyN(io.Discard, c.br, n)
	return err
}

// copyChunk hands go-smtp a chunk of n bytes, up to a buffer's worth at
// a time; err is the client's, backErr go-smtp's. A chunk cut short
// leaves midChunk set: go-smtp's read is then told the chunk ended early
// (bridge.Read), or it would take the bytes it had for the whole chunk
// and store them as the message.
func (c *conn) copyChunk(n int64) (err, backErr error) {
	c.client.SetReadDeadline(time.Now().Add(c.srv.cfg.Timeouts.Command))
	c.midChunk = true
	for n > 0 {
		buf, err := c.br.Peek(int(min(n, int64(c.br.Size()))))
		if len(buf) > 0 {
			if backErr := c.toBackend(buf); backErr != nil {
				return nil, backErr
			}
			c.br.Discard(len(buf))
			n -= int64(len(buf))
		}
		if err != nil {
			return err, nil
		}
	}
	c.midChunk = false
	return nil, nil
}

// ehloLines renders the EHLO reply: the dialect's greeting and keywords,
// with STARTTLS and AUTH only where the scenario offers them now.
func (c *conn) ehloLines() []string {
	d, sc := c.srv.cfg.Dialect, c.srv.cfg.Scenario
	keywords := d.Keywords
	if c.tls != nil && len(d.KeywordsAfterTLS) > 0 {
		keywords = d.KeywordsAfterTLS
	}
	if len(sc.SMTP.EHLOKeywords) > 0 {
		keywords = sc.SMTP.EHLOKeywords
	}
	texts := []string{c.render(d.EHLOGreeting, vars{})}
	for _, kw := range keywords {
		switch strings.ToUpper(firstField(kw)) {
		case "STARTTLS":
			if c.tls != nil || !sc.SMTP.OffersSTARTTLS() {
				continue
			}
		case "AUTH":
			switch {
			case c.authOffered():
				kw = "AUTH " + strings.Join(sc.SMTP.Auth.Mechanisms, " ")
			case sc.SMTP.Auth == nil && len(strings.Fields(kw)) > 1:
				// The imitated server's own advertisement (Debian's
				// sendmail lists its SASL plugins' mechanisms even on an
				// MX); the lab implements none of them, so an AUTH
				// attempt gets the unsupported-mechanism reply.
			default:
				continue
			}
		}
		texts = append(texts, kw)
	}
	return joinReply("250", texts)
}

func (c *conn) authOffered() bool {
	a := c.srv.cfg.Scenario.SMTP.Auth
	return a != nil && (c.tls != nil || !a.AfterTLSOnly)
}

// banner is the 220 greeting.
func (c *conn) banner() []string {
	text := c.srv.cfg.Dialect.Banner
	if b := c.srv.cfg.Scenario.SMTP.Banner; b != "" {
		text = b
	}
	return []string{"220 " + c.render(text, vars{})}
}

// dialectLines returns the dialect's reply for key, or go-smtp's lines
// when the dialect has none.
func (c *conn) dialectLines(d *scenarios.Dialect, key scenarios.Reply, v vars, fallback []string) []string {
	text, ok := d.Replies[key]
	if !ok {
		return fallback
	}
	return splitReply(c.render(text, v))
}

// replyKey writes the dialect's reply for key (or for alt when key is
// missing) and returns its code.
func (c *conn) replyKey(key, alt scenarios.Reply, v vars) int {
	text, ok := c.srv.cfg.Dialect.Replies[key]
	if !ok {
		text = c.srv.cfg.Dialect.Replies[alt]
	}
	return c.reply(splitReply(c.render(text, v)))
}

// reply writes reply lines and returns their code.
func (c *conn) reply(lines []string) int {
	c.write(lines)
	if len(lines) == 0 || len(lines[0]) < 3 {
		return 0
	}
	code, _ := strconv.Atoi(lines[0][:3])
	return code
}

func (c *conn) write(lines []string) {
	for _, l := range lines {
		bw := c.out()
		bw.WriteString(l)
		bw.WriteString("\r\n")
		c.lineStep(FromServer, l)
	}
}

// writers hold replies while they wait to be flushed.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// out is the buffered writer for replies, taken from the pool while
// replies wait and given back once they are flushed: an idle session
// holds none (issue 14: memory per idle connection).
func (c *conn) out() *bufio.Writer {
	if c.bw == nil {
		c.bw = writers.Get().(*bufio.Writer)
		c.bw.Reset(c.client)
	}
	return c.bw
}

// flush sends the replies waiting. After an error the session ends; the
// writer goes back to the pool all the same.
func (c *conn) flush() error {
	if c.bw == nil {
		return nil
	}
	c.client.SetWriteDeadline(time.Now().Add(c.srv.cfg.Timeouts.Command))
	err := c.bw.Flush()
	c.releaseWriter()
	return err
}

// releaseWriter gives the writer back to the pool, dropping anything it
// still holds.
func (c *conn) releaseWriter() {
	if c.bw != nil {
		c.bw.Reset(nil)
		writers.Put(c.bw)
		c.bw = nil
	}
}

// flushIfIdle sends queued replies unless a whole next command is
// already waiting, as Postfix does (RFC 2920 §3.1: the server may batch
// replies to a group of pipelined commands). Bytes without a line end do
// not count: the next read would block on them, and the client may be
// waiting for our reply (openssl s_client sends its ClientHello after a
// refused STARTTLS; real sendmail answers it at once).
func (c *conn) flushIfIdle() error {
	if n := c.br.Buffered(); n > 0 {
		if buf, _ := c.br.Peek(n); bytes.IndexByte(buf, '\n') >= 0 {
			return nil
		}
	}
	return c.flush()
}

// readLine reads one line from the client without its line ending.
func (c *conn) readLine(timeout time.Duration) (string, error) {
	c.client.SetReadDeadline(time.Now().Add(timeout))
	c.awaitInput()
	var line []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		if len(line)+len(chunk) > maxCommandLine {
			// Drop the rest of the line, then report it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = c.br.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			return "", errLineTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				if c.secretInput || c.credsMayFollow {
					c.note("client closed in the middle of a line (%d bytes, not shown: it may hold credentials)", len(line))
				} else {
					c.note("client closed in the middle of a line: %q", line)
				}
			}
			return "", err
		}
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// backendGone ends a session whose go-smtp side closed (it does after
// too many errors) or failed.
func (c *conn) backendGone(err error) (EndReason, bool) {
	// net.ErrClosed: the lab is shutting down (pipeListener.hand), or
	// go-smtp closed its side (bridge.Read).
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.note("backend: %v", err)
	}
	_ = c.flush()
	return EndClosedByLab, true
}

// endFromError maps a client-side error to the record's end reason,
// answering a timeout as the imitated server does.
func (c *conn) endFromError(err error) EndReason {
	var ne net.Error
	switch {
	case c.aborted():
		return EndClosedByLab
	case errors.As(err, &ne) && ne.Timeout():
		c.replyKey(scenarios.ReplyTimeout, "", vars{})
		_ = c.flush()
		return EndTimeout
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return EndReset
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return EndClosedByClient
	case errors.Is(err, net.ErrClosed):
		return EndClosedByLab
	}
	c.note("connection error: %v", err)
	return EndReset
}

func (c *conn) note(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	c.rec.Notes = append(c.rec.Notes, text)
	c.step(Step{From: FromLab, Kind: StepNote, Text: text})
}

// finish closes everything and writes the record and the log line.
func (c *conn) finish(end EndReason) {
	c.once.Do(func() {
		c.rec.Ended = c.srv.cfg.Now().UTC()
		c.rec.EndReason = end
		c.rec.Counts = c.counts.String()
		c.closeStep(end)
		if err := c.srv.cfg.Sessions.add(c.rec); err != nil {
			c.srv.cfg.Logger.Error(err.Error())
		}
		if end == EndQuit {
			// The 221 leaves only now: a client that saw it finds the
			// record in the sessions file even if the lab is killed at
			// once (issue 14: 7 of 10 records were missing).
			_ = c.flush()
		}
		c.cancel()
		if c.tls != nil && end != EndReset && !c.resetByLab {
			// A real server's SSL_shutdown: close_notify before FIN.
			c.tls.SetWriteDeadline(time.Now().Add(time.Second))
			_ = c.tls.CloseWrite()
		}
		c.raw.Close()
		c.releaseWriter()
		c.srv.cfg.Logger.Info(c.logLine())
	})
}

// logLine is the one line per session, in the style of Postfix's
// "disconnect from" line, ending in the counts.
func (c *conn) logLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: disconnect from %s", c.rec.Scenario, c.rec.ID, hostPort(c.rec.Remote))
	if c.rec.TLS != nil {
		fmt.Fprintf(&b, " tls=%s/%s", c.rec.TLS.Version, c.rec.TLS.Cipher)
	}
	if a := c.rec.AlertSent; a != nil {
		fmt.Fprintf(&b, " alert=%d/%s", a.Code, a.Name)
	}
	fmt.Fprintf(&b, " end=%s %s", c.rec.EndReason, c.rec.Counts)
	if strings.HasPrefix(c.helo, "mxlab-probe.") {
		// sender.ProbeHELOPrefix: mxlab send's probing connection.
		b.WriteString(" (mxlab send's probing connection)")
	}
	return b.String()
}

// hostPort renders an address as Postfix does: unknown[127.0.0.1]:40112.
func hostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return "unknown[" + host + "]:" + port
}

// vars are a reply template's values.
type vars struct {
	arg, addr, line, queueID, limit string
}

// render expands a dialect template's {name} placeholders; an unknown
// name stays as written. One pass without a strings.Replacer: building
// one per reply, dates included, was 7 % of a plaintext session.
func (c *conn) render(tmpl string, v vars) string {
	if strings.IndexByte(tmpl, '{') < 0 {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 32)
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(tmpl[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(tmpl[:open])
		name := tmpl[open+1 : open+end]
		if value, ok := c.placeholder(name, v); ok {
			b.WriteString(value)
		} else {
			b.WriteString(tmpl[open : open+end+1])
		}
		tmpl = tmpl[open+end+1:]
	}
	b.WriteString(tmpl)
	return b.String()
}

// placeholder is the value of one template name.
func (c *conn) placeholder(name string, v vars) (string, bool) {
	switch name {
	case "host":
		return c.srv.cfg.Host, true
	case "helo":
		if c.helo == "" {
			return "unknown", true
		}
		return c.helo, true
	case "ip":
		return c.clientIP(), true
	case "arg":
		return v.arg, true
	case "addr":
		return v.addr, true
	case "line":
		return v.line, true
	case "queue_id":
		return v.queueID, true
	case "limit":
		return v.limit, true
	case "rdns":
		return reverseName(c.clientIP()), true
	case "date":
		return c.srv.cfg.Now().Format("Mon, 02 Jan 2006 15:04:05 -0700"), true
	case "gmtdate":
		return c.srv.cfg.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"), true
	}
	return "", false
}

// clientIP is the client's address as a server prints it in replies.
func (c *conn) clientIP() string {
	host, _, err := net.SplitHostPort(c.rec.Remote)
	if err != nil {
		return ""
	}
	if strings.Contains(host, ":") {
		return "IPv6:" + host // RFC 5321 §4.1.3 address literal, as sendmail and Exim print it
	}
	return host
}

// reverseName is the client's reverse DNS name as the imitated server
// prints it. The lab does no PTR lookups (its clients are on loopback,
// whose name is localhost); any other address prints as an address
// literal, as sendmail does for a client without a PTR record.
func reverseName(ip string) string {
	if addr, err := netip.ParseAddr(strings.TrimPrefix(ip, "IPv6:")); err == nil && addr.IsLoopback() {
		return "localhost"
	}
	return "[" + ip + "]"
}

// splitReply turns a dialect reply ("250 a\n250 b") into wire lines
// ("250-a", "250 b").
func splitReply(text string) []string {
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines)-1; i++ {
		if len(lines[i]) > 3 {
			lines[i] = lines[i][:3] + "-" + lines[i][4:]
		}
	}
	return lines
}

// joinReply builds a multi-line reply from texts.
func joinReply(code string, texts []string) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		sep := "-"
		if i == len(texts)-1 {
			sep = " "
		}
		out[i] = code + sep + t
	}
	return out
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// angleAddr extracts <addr> from "FROM:<addr> SIZE=1" as sendmail quotes it.
func angleAddr(arg string) string {
	i := strings.IndexByte(arg, '<')
	j := strings.IndexByte(arg, '>')
	if i >= 0 && j > i {
		return arg[i : j+1]
	}
	_, after, _ := strings.Cut(arg, ":")
	return "<" + firstField(after) + ">"
}

// redact keeps AUTH credentials out of the record.
func redact(verb, line string) string {
	if verb != "AUTH" {
		return line
	}
	f := strings.Fields(line)
	if len(f) > 2 {
		return f[0] + " " + f[1] + " ***"
	}
	return line
}
