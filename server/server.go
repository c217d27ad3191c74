// Package server is the receiving half of the lab: one SMTP server per
// scenario, built on go-smtp, with a wire layer below it that speaks the
// imitated server's dialect, owns STARTTLS, and puts each scenario's TLS
// failure on the wire byte for byte.
//
// The wire layer (front.go) sits between the client's TCP connection and
// go-smtp, which it hands each command through an in-memory connection
// that resumes the session as a coroutine (bridge.go):
//
//  1. It writes the imitated banner, reads each command line, and relays
//     SMTP commands to go-smtp, rewriting go-smtp's replies into the
//     dialect (scenarios.Dialect).
//  2. It answers STARTTLS itself, reads the ClientHello (clienthello.go),
//     applies the scenario's rules (rules.go), and either writes the alert
//     record and closes, or replays the bytes to crypto/tls (handshake.go).
//     go-smtp never sees STARTTLS: after the handshake it gets the second
//     EHLO as a new one, and the dialect still applies after TLS.
//  3. It records the session (record.go) and logs one line per session
//     that ends in Postfix-style counts.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/scenarios"
)

// Timeouts bound each phase of a session; zero values take the defaults.
type Timeouts struct {
	// Command is how long the lab waits for a command or a line of DATA
	// (Postfix smtpd_timeout: 300s).
	Command time.Duration
	// Handshake is how long a TLS handshake may take, ClientHello included.
	Handshake time.Duration
	// Session caps a whole session.
	Session time.Duration
}

// Default timeouts.
const (
	DefaultCommandTimeout   = 300 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultSessionTimeout   = 30 * time.Minute
	// maxCommandLine is the longest command line accepted (RFC 5321
	// §4.5.3.1.4 says 512; Postfix's line_length_limit is 2048).
	maxCommandLine = 2048
)

func (t Timeouts) withDefaults() Timeouts {
	if t.Command <= 0 {
		t.Command = DefaultCommandTimeout
	}
	if t.Handshake <= 0 {
		t.Handshake = DefaultHandshakeTimeout
	}
	if t.Session <= 0 {
		t.Session = DefaultSessionTimeout
	}
	return t
}

// Config is what one scenario's server needs.
type Config struct {
	// Scenario is the scenario the server applies to every connection.
	Scenario *scenarios.Scenario
	// Dialect is the imitated server's dialect.
	Dialect *scenarios.Dialect
	// Host is the server's own host name (banner, EHLO), without a dot.
	Host string
	// Certificate is what the server presents; nil for none.
	Certificate *tls.Certificate
	// Sessions receives every finished session (required).
	Sessions *SessionLog
	// Accepted receives a line for every message before its 250 is
	// sent; nil for none.
	Accepted *AcceptedLog
	// Messages keeps every message a client delivers; nil discards them.
	Messages *msgstore.Store
	// Logger receives one line per session; nil discards.
	Logger *slog.Logger
	// Timeouts bound each phase.
	Timeouts Timeouts
	// Limits bound recipients, errors, message size and connections.
	Limits Limits
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	// commandHook, when set (tests only), sees each command line before
	// it is handled: a test injects a panic through it.
	commandHook func(line string)
}

// Server serves one scenario on any number of listeners.
type Server struct {
	cfg      Config
	tls      *tls.Config
	rules    []rejection
	faults   map[scenarios.Point]*scenarios.Fault
	smtp     *smtp.Server
	backends *pipeListener
	queueSeq atomic.Uint32
	queueTag uint32 // random per server, so queue ids differ across runs

	mu     sync.Mutex
	conns  map[*conn]struct{}
	open   int            // admitted sessions (Limits.Connections)
	from   map[string]int // admitted sessions by client address
	lns    []net.Listener
	closed bool
	wg     sync.WaitGroup
	smtpWG sync.WaitGroup
}

// New prepares a server for cfg.Scenario.
func New(cfg Config) (*Server, error) {
	if cfg.Scenario == nil || cfg.Dialect == nil || cfg.Sessions == nil {
		return nil, errors.New("server: Config needs Scenario, Dialect and Sessions")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	cfg.Limits = cfg.Limits.effective(cfg.Dialect)
	sc := cfg.Scenario
	rules, err := compileRules(sc.TLS.Reject)
	if err != nil {
		return nil, err
	}
	faults, rules, err := compileFaults(sc, rules)
	if err != nil {
		return nil, err
	}
	if cfg.Certificate == nil && sc.SMTP.OffersSTARTTLS() {
		if _, ok := match(rules, &ClientHello{}); !ok {
			return nil, fmt.Errorf("server: %s: STARTTLS without a certificate needs a tls.reject rule with when: always", sc.Name)
		}
	}
	s := &Server{cfg: cfg, rules: rules, faults: faults, conns: map[*conn]struct{}{}, from: map[string]int{}}
	if cfg.Certificate != nil {
		if s.tls, err = tlsConfig(sc, cfg.Dialect, *cfg.Certificate); err != nil {
			return nil, err
		}
	}
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	s.queueTag = uint32(tag[0])<<16 | uint32(tag[1])<<8 | uint32(tag[2])

	s.smtp = smtp.NewServer(&backend{srv: s})
	s.smtp.Domain = cfg.Host
	s.smtp.MaxMessageBytes = cfg.Limits.MessageBytes
	// The wire layer limits command lines; DATA lines may be longer
	// (Postfix accepts and folds them).
	s.smtp.MaxLineLength = 0
	// The wire layer owns TLS and decides when AUTH is offered.
	s.smtp.AllowInsecureAuth = true
	enableExtensions(s.smtp, advertised(sc, cfg.Dialect))
	s.smtp.ErrorLog = slogPrintf{cfg.Logger}
	s.backends = newPipeListener()
	s.smtpWG.Add(1)
	go func() {
		defer s.smtpWG.Done()
		_ = s.smtp.Serve(s.backends)
	}()
	return s, nil
}

// tlsConfig builds the crypto/tls configuration of a scenario.
func tlsConfig(sc *scenarios.Scenario, d *scenarios.Dialect, cert tls.Certificate) (*tls.Config, error) {
	cfg := &tls.Config{
		Certificates:           []tls.Certificate{cert},
		SessionTicketsDisabled: !sessionTickets(sc, d),
	}
	var err error
	if cfg.MinVersion, err = tlsVersion(sc.TLS.MinVersion); err != nil {
		return nil, fmt.Errorf("server: %s: tls.min_version: %w", sc.Name, err)
	}
	if cfg.MaxVersion, err = tlsVersion(sc.TLS.MaxVersion); err != nil {
		return nil, fmt.Errorf("server: %s: tls.max_version: %w", sc.Name, err)
	}
	if len(sc.TLS.Ciphers) > 0 {
		byName := map[string]uint16{}
		for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
			byName[cs.Name] = cs.ID
		}
		for _, name := range sc.TLS.Ciphers {
			id, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("server: %s: tls.ciphers: %q is not a cipher suite Go implements (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", sc.Name, name)
			}
			cfg.CipherSuites = append(cfg.CipherSuites, id)
		}
	}
	return cfg, nil
}

// advertised lists every EHLO keyword the scenario may advertise.
func advertised(sc *scenarios.Scenario, d *scenarios.Dialect) []string {
	if len(sc.SMTP.EHLOKeywords) > 0 {
		return sc.SMTP.EHLOKeywords
	}
	return append(append([]string(nil), d.Keywords...), d.KeywordsAfterTLS...)
}

// enableExtensions makes go-smtp accept the parameters of every
// extension the dialect advertises: a server that lists DSN must take
// RCPT TO ... ORCPT=, which real Postfix always sends when it sees DSN
// (go-smtp otherwise answers 504 5.5.4 ORCPT is not implemented, and
// Postfix bounces). Found by the interop suite against real Postfix.
func enableExtensions(srv *smtp.Server, keywords []string) {
	for _, kw := range keywords {
		switch strings.ToUpper(firstField(kw)) {
		case "DSN":
			srv.EnableDSN = true
		case "SMTPUTF8":
			srv.EnableSMTPUTF8 = true
		case "DELIVERBY":
			srv.EnableDELIVERBY = true
		case "BINARYMIME":
			srv.EnableBINARYMIME = true
		case "REQUIRETLS":
			srv.EnableREQUIRETLS = true
		case "MT-PRIORITY":
			srv.EnableMTPRIORITY = true
		case "RRVS":
			srv.EnableRRVS = true
		}
	}
}

// sessionTickets follows the scenario, else the imitated server's habit.
func sessionTickets(sc *scenarios.Scenario, d *scenarios.Dialect) bool {
	if sc.TLS.SessionTickets != nil {
		return *sc.TLS.SessionTickets
	}
	return d.SessionTickets
}

func tlsVersion(v scenarios.Version) (uint16, error) {
	switch v {
	case "":
		return 0, nil
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q", v)
}

// Scenario returns the scenario the server applies.
func (s *Server) Scenario() *scenarios.Scenario { return s.cfg.Scenario }

// Serve accepts connections on l until Close; it returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	s.lns = append(s.lns, l)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	return accept(l, s.isClosed, func(nc net.Conn) { s.handle(nc, "") }, s.cfg.Scenario.Name)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// handle runs one client session; via says where it came in ("" for the
// scenario's own listener).
func (s *Server) handle(nc net.Conn, via string) {
	c := s.newConn(nc, via)
	if c == nil {
		nc.Close()
		return
	}
	go c.serve()
}

// accept hands every connection l accepts to handle until closed says
// the owner is closing.
func accept(l net.Listener, closed func() bool, handle func(net.Conn), name string) error {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if closed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors and the like: back off, as
				// net/http does, instead of spinning or giving up.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("server: %s: accept: %w", name, err)
		}
		delay = 0
		handle(nc)
	}
}

// Close stops the listeners and ends every open session (closed-by-lab),
// waiting for their records to be written.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	for _, l := range s.lns {
		if e := l.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	for c := range s.conns {
		c.abort()
	}
	s.mu.Unlock()
	s.wg.Wait()
	// go-smtp's Close only closes the listeners its Serve has registered
	// so far; closing ours directly also ends a Serve that has not.
	s.backends.Close()
	s.smtp.Close()
	s.smtpWG.Wait()
	return err
}

func (s *Server) newConn(nc net.Conn, via string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	c := newConn(s, nc, via)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	c.client4 = clientAddr(nc)
	l := s.cfg.Limits
	if l.Connections > 0 && s.open >= l.Connections || l.ConnectionsPerClient > 0 && s.from[c.client4] >= l.ConnectionsPerClient {
		c.refused = true
		return c
	}
	s.open++
	s.from[c.client4]++
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if !c.refused {
		s.open--
		if s.from[c.client4]--; s.from[c.client4] <= 0 {
			delete(s.from, c.client4)
		}
	}
	s.mu.Unlock()
	s.wg.Done()
}

// clientAddr is the client's IP address, the key of the per-client
// connection limit (Postfix's anvil counts by address, not port).
func clientAddr(nc net.Conn) string {
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		return host
	}
	return nc.RemoteAddr().String()
}

// queueID makes a queue id in the imitated server's style, unique in the
// run, so users can match a 250 reply to a session record.
func (s *Server) queueID() string {
	return formatQueueID(s.cfg.Dialect.QueueID, s.queueTag, s.queueSeq.Add(1))
}

// pipeListener hands go-smtp the backend ends of the wire layer's pipes.
type pipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (p *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.ch:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

// hand passes a connection to go-smtp, unless the server is closing.
func (p *pipeListener) hand(ctx context.Context, c net.Conn) error {
	select {
	case p.ch <- c:
		return nil
	case <-p.done:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeListener) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "mxlab-wire" }

// slogPrintf adapts go-smtp's Logger to slog.
type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(format string, v ...any) {
	s.l.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)), "source", "go-smtp")
}

func (s slogPrintf) Println(v ...any) {
	s.l.Warn(strings.TrimSpace(fmt.Sprintln(v...)), "source", "go-smtp")
}
