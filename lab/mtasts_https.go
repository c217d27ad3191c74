package lab

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsrpt"
)

// DefaultHTTPSPort is the port of the lab's HTTPS listener in the
// one-port-per-scenario layout, where every policy host and the TLS-RPT
// endpoint share it and the TLS SNI and HTTP Host name the one asked for.
const DefaultHTTPSPort = 10443

// httpsPlan says where the lab's HTTPS services are.
type httpsPlan struct {
	// policy is, per scenario, its policy host's address (zero for a
	// scenario without mta_sts).
	policy []netip.AddrPort
	// refused marks the scenarios with no-policy-host, whose policy
	// address refuses connections: in the one-port-per-scenario layout a
	// socket bound to a port of its own without listening, in the
	// shared-port layout nothing at all.
	refused []bool
	// reserve says the refused policy hosts need a port of their own
	// (the one-port-per-scenario layout).
	reserve bool
	// tlsrpt is the report endpoint's address (zero when no scenario
	// needs HTTPS).
	tlsrpt netip.AddrPort
}

// planHTTPS places the policy hosts and the report endpoint, given the
// scenarios' SMTP addresses.
//
// In the shared-port layout each policy host is its scenario's own
// address on port 443, where real MTAs fetch it (RFC 8461 §3.3: an
// https: URL without a port), and the report endpoint takes the next
// address of the network after the last scenario's. Nothing listens for
// no-policy-host: the scenario's address refuses connections to 443.
//
// In the one-port-per-scenario layout one listener on the SMTP host
// serves every policy host and the endpoint, told apart by SNI and Host;
// a no-policy-host scenario gets a port of its own where nothing
// listens.
func (a Addressing) planHTTPS(scs []*scenarios.Scenario, smtp []netip.AddrPort) (*httpsPlan, error) {
	p := &httpsPlan{policy: make([]netip.AddrPort, len(scs)), refused: make([]bool, len(scs))}
	if !needsHTTPS(scs) {
		return p, nil
	}
	if a.HTTPSPort < 0 || a.HTTPSPort > 65535 {
		return nil, fmt.Errorf("lab: https port %d is not a port number", a.HTTPSPort)
	}
	if a.Port != 0 {
		port := uint16(a.HTTPSPort)
		if port == 0 {
			port = 443
		}
		for i, sc := range scs {
			if sc.MTASTS != nil {
				p.policy[i] = netip.AddrPortFrom(smtp[i].Addr(), port)
				p.refused[i] = sc.MTASTS.Policy == scenarios.PolicyNoHost
			}
		}
		prefix, err := netip.ParsePrefix(a.Net)
		if err != nil {
			return nil, fmt.Errorf("lab: smtp net: %w", err)
		}
		next := smtp[len(smtp)-1].Addr().Next()
		if !prefix.Contains(next) {
			return nil, fmt.Errorf("lab: smtp net %s has no address for the TLS-RPT endpoint after the %d scenarios", a.Net, len(scs))
		}
		p.tlsrpt = netip.AddrPortFrom(next, port)
		return p, nil
	}
	port := uint16(a.HTTPSPort)
	if port == 0 {
		port = DefaultHTTPSPort
	}
	if a.Ephemeral {
		port = 0
	}
	host := smtp[0].Addr()
	p.tlsrpt, p.reserve = netip.AddrPortFrom(host, port), true
	for i, sc := range scs {
		switch {
		case sc.MTASTS == nil:
		case sc.MTASTS.Policy == scenarios.PolicyNoHost:
			p.policy[i], p.refused[i] = netip.AddrPortFrom(host, 0), true
		default:
			p.policy[i] = p.tlsrpt
		}
	}
	return p, nil
}

// httpsListeners are the bound sockets of an httpsPlan.
type httpsListeners struct {
	// listeners are the HTTPS listeners by the address planned for them.
	listeners map[netip.AddrPort]net.Listener
	// refused are the sockets bound without listening.
	refused []int
}

// bind binds every planned HTTPS listener and refusing socket, and
// writes the bound ports back into the plan. On error it closes what it
// bound.
func (p *httpsPlan) bind() (_ *httpsListeners, err error) {
	hl := &httpsListeners{listeners: map[netip.AddrPort]net.Listener{}}
	defer func() {
		if err != nil {
			hl.close()
		}
	}()
	bound := map[netip.AddrPort]netip.AddrPort{}
	listen := func(ap netip.AddrPort) (netip.AddrPort, error) {
		if b, ok := bound[ap]; ok {
			return b, nil
		}
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("lab: https: listen on %s: %w: %w", ap, ErrBind, err)
		}
		b := ln.Addr().(*net.TCPAddr).AddrPort()
		hl.listeners[b] = ln
		bound[ap] = b
		return b, nil
	}
	if p.tlsrpt.IsValid() {
		if p.tlsrpt, err = listen(p.tlsrpt); err != nil {
			return nil, err
		}
	}
	for i, ap := range p.policy {
		switch {
		case !ap.IsValid():
		case p.refused[i] && !p.reserve:
			// The scenario's own address: nothing else is bound there.
		case p.refused[i]:
			fd, port, err := bindRefusing(ap.Addr())
			if err != nil {
				return nil, fmt.Errorf("lab: https: reserve a port on %s: %w: %w", ap.Addr(), ErrBind, err)
			}
			hl.refused = append(hl.refused, fd)
			p.policy[i] = netip.AddrPortFrom(ap.Addr(), port)
		default:
			if p.policy[i], err = listen(ap); err != nil {
				return nil, err
			}
		}
	}
	return hl, nil
}

// bindRefusing binds a TCP socket to a free port of ip without listening
// on it: the port stays the lab's, and a connection to it is refused
// (RST), which is what "nothing listens" means for a policy fetch.
func bindRefusing(ip netip.Addr) (fd int, port uint16, err error) {
	family, sa := syscall.AF_INET, syscall.Sockaddr(&syscall.SockaddrInet4{Addr: ip.Unmap().As4()})
	if ip.Is6() && !ip.Is4In6() {
		family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Addr: ip.As16()}
	}
	if fd, err = syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0); err != nil {
		return -1, 0, err
	}
	if err = syscall.Bind(fd, sa); err == nil {
		var got syscall.Sockaddr
		if got, err = syscall.Getsockname(fd); err == nil {
			switch a := got.(type) {
			case *syscall.SockaddrInet4:
				return fd, uint16(a.Port), nil
			case *syscall.SockaddrInet6:
				return fd, uint16(a.Port), nil
			}
			err = errors.New("unexpected socket address")
		}
	}
	syscall.Close(fd)
	return -1, 0, err
}

// close closes every socket.
func (hl *httpsListeners) close() {
	for _, ln := range hl.listeners {
		ln.Close()
	}
	for _, fd := range hl.refused {
		syscall.Close(fd)
	}
	hl.refused = nil
}

// httpsServer serves the policy hosts and the report endpoint.
type httpsServer struct {
	srv   *http.Server
	certs map[string]*tls.Certificate // by SNI host name
}

// newHTTPSServer routes each policy host's policy URL and the report
// endpoint's URL; everything else is 404.
func newHTTPSServer(sites []*Site, ep *TLSRPTEndpoint, reports http.Handler, epCert *tls.Certificate, logger *slog.Logger) *httpsServer {
	h := &httpsServer{certs: map[string]*tls.Certificate{}}
	mux := http.NewServeMux()
	for _, s := range sites {
		p := s.MTASTS
		if p == nil || p.Fault == scenarios.PolicyNoHost {
			continue
		}
		h.certs[p.Host] = &s.policyLeaf.TLS
		route := "GET " + p.Host + stsPolicyPath
		if p.Fault == scenarios.PolicyFetchFail {
			// The policy host is up and its certificate valid, and the
			// policy is not there: a sender without a cached policy
			// must treat the domain as having none (RFC 8461 §3.3, §5.1).
			mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
				logger.Info("mta-sts: policy fetch answered 404 (policy: fetch-fail)", "scenario", s.Name, "host", p.Host, "remote", r.RemoteAddr)
				http.NotFound(w, r)
			})
			continue
		}
		body := []byte(p.Policy)
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			logger.Info("mta-sts: policy fetched", "scenario", s.Name, "host", p.Host, "remote", r.RemoteAddr)
			// RFC 8461 §3.2: the policy is text/plain.
			w.Header().Set("Content-Type", "text/plain")
			w.Write(body)
		})
	}
	if ep != nil {
		h.certs[ep.Host] = epCert
		// RFC 8460 §3: reports are POSTed to the rua https: URI.
		mux.Handle(ep.Host+tlsrptPath, reports)
	}
	h.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// Failed handshakes (a client that rejects bad-cert's
		// certificate) go to the lab's log, not to standard error.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return h
}

// serve serves ln with TLS; def is the certificate for a ClientHello
// without SNI or with a name the lab does not serve.
func (h *httpsServer) serve(ln net.Listener, def *tls.Certificate) error {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c, ok := h.certs[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))]; ok {
				return c, nil
			}
			return def, nil
		},
	}
	err := h.srv.Serve(tls.NewListener(ln, cfg))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// serveHTTPS starts serving every bound HTTPS listener. A ClientHello
// without a known SNI name gets the certificate of the policy host at the
// listener's address (shared-port layout), else the endpoint's.
func (l *Lab) serveHTTPS(layout *Layout, logger *slog.Logger) error {
	ep := layout.TLSRPT
	if l.sockets == nil || len(l.sockets.listeners) == 0 || ep == nil {
		return nil
	}
	l.https = newHTTPSServer(layout.Scenarios, ep, tlsrpt.Handler(l.reports), &ep.leaf.TLS, logger.With("component", "https"))
	for addr, ln := range l.sockets.listeners {
		def := &ep.leaf.TLS
		for _, s := range layout.Scenarios {
			if addr != ep.addr && s.MTASTS != nil && s.MTASTS.addr == addr && s.policyLeaf != nil {
				def = &s.policyLeaf.TLS
			}
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := l.https.serve(ln, def); err != nil {
				l.fail(fmt.Errorf("lab: https on %s: %w", addr, err))
			}
		}()
	}
	return nil
}
