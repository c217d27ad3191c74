package dnslab

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/miekg/dns"
)

// portAttempts is how often Start tries ephemeral ports before giving up
// when the port the kernel gave UDP is taken for TCP.
const portAttempts = 8

// readBufferSize is the UDP read buffer: the largest DNS message, so that no
// query is ever cut short on read (miekg's default is 512 bytes).
const readBufferSize = dns.MaxMsgSize

// Server serves a Zone over UDP and TCP on one address.
type Server struct {
	addr    string
	servers []*dns.Server // UDP, then TCP
	wg      sync.WaitGroup

	closing   atomic.Bool // set when Close begins: serve errors are then expected
	closeOnce sync.Once
	closeErr  error
}

// Start binds UDP and TCP on addr and serves z on both, logging to log (nil:
// no logging). Port 0 picks one free port for both protocols: UDP binds
// first and TCP takes the same port, retrying with a new port when TCP's is
// taken. Start returns once both serve; its errors name the address and wrap
// the cause, so errors.Is(err, syscall.EADDRINUSE) detects a taken address,
// and a zone that fails [Zone.Validate], or whose Keys cannot sign
// ([ErrBadKey]), is an error.
func Start(addr string, z *Zone, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := z.Validate(); err != nil {
		return nil, err
	}
	// Signing comes before binding: keys that cannot sign are an error
	// here, not a zone served unsigned.
	h, err := newHandler(z, log)
	if err != nil {
		return nil, err
	}
	pc, ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	s := &Server{addr: pc.LocalAddr().String()}
	s.servers = []*dns.Server{
		{PacketConn: pc, Handler: h, UDPSize: readBufferSize, MsgAcceptFunc: acceptQueries},
		{Listener: ln, Handler: h, MsgAcceptFunc: acceptQueries},
	}

	// Each server reports once: nil when it serves (NotifyStartedFunc),
	// or the error that stopped it before it could.
	type report struct {
		srv *dns.Server
		err error
	}
	reports := make(chan report, len(s.servers))
	for _, srv := range s.servers {
		// NotifyStartedFunc runs on the goroutine that calls
		// ActivateAndServe, so served needs no lock.
		served := false
		srv.NotifyStartedFunc = func() {
			served = true
			reports <- report{srv, nil}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			err := srv.ActivateAndServe()
			switch {
			case !served:
				if err == nil {
					err = errors.New("stopped before serving")
				}
				reports <- report{srv, err}
			case err != nil && !s.closing.Load():
				// Start has returned: the log is the only place left.
				log.Error("dnslab: server stopped", "addr", s.addr, "err", err)
			}
		}()
	}
	var started []*dns.Server
	var errs []error
	for range s.servers {
		r := <-reports
		if r.err != nil {
			errs = append(errs, fmt.Errorf("dnslab: serve %s: %w", s.addr, r.err))
			continue
		}
		started = append(started, r.srv)
	}
	if len(errs) > 0 {
		s.closing.Store(true)
		s.closeOnce.Do(func() {}) // what follows is the close
		for _, srv := range started {
			_ = srv.Shutdown()
		}
		pc.Close()
		ln.Close()
		s.wg.Wait()
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Addr returns the address the server is bound to, as host:port, the same for UDP and TCP.
func (s *Server) Addr() string {
	return s.addr
}

// Close stops both servers, waits for their goroutines and the queries in
// flight to finish, and returns their errors; calls after the first return
// the first's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		var errs []error
		for _, srv := range s.servers {
			if err := srv.Shutdown(); err != nil {
				errs = append(errs, fmt.Errorf("dnslab: stop %s: %w", s.addr, err))
			}
		}
		s.wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// listen binds UDP and TCP on the same address. With port 0 (or none) the
// kernel picks UDP's port and TCP binds the same one; when another process
// holds that port for TCP, it tries again with a new pair.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dnslab: address %q: %w", addr, err)
	}
	attempts := 1
	if port == "" || port == "0" {
		attempts = portAttempts
	}
	var lastErr error
	for range attempts {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dnslab: serve %s: %w", addr, err)
		}
		// TCP binds the very address UDP got, so a host name resolves
		// once, and ":0" gets UDP's port.
		bound := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", bound)
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = fmt.Errorf("dnslab: serve %s: %w", addr, err)
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if attempts > 1 {
		return nil, nil, fmt.Errorf("%w (no port free for both UDP and TCP in %d attempts)", lastErr, attempts)
	}
	return nil, nil, lastErr
}

// acceptQueries lets every message that is not a response reach the
// handler, so that all answering rules (NOTIMP, FORMERR, …) live in one
// place, the handler; miekg's default would answer some itself and let
// NOTIFY through. Responses get no answer at all (RFC 1035 §4.1.1: QR).
func acceptQueries(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}
