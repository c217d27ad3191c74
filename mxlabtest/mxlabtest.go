package mxlabtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/warmstate"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/server"
)

// Option configures Start.
type Option func(*options)

type options struct {
	scenarios []string
	records   []string
}

// Scenarios limits the lab to these scenarios (default: every built-in
// one). An unknown name fails the test with the lab's own error.
func Scenarios(names ...string) Option {
	return func(o *options) { o.scenarios = append(o.scenarios, names...) }
}

// Records adds DNS records to the lab's zone, in zone-file syntax with
// names relative to the zone (as `mxlab serve --record`).
func Records(lines ...string) Option {
	return func(o *options) { o.records = append(o.records, lines...) }
}

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	*lab.Lab
	tb    testing.TB // nil for a lab from New
	port  string     // the SMTP port every scenario shares
	state string     // the state directory New made, removed by Close
}

// bindAttempts bounds the search for a free address block and port.
const bindAttempts = 8

// Start starts a lab on loopback (SMTP, DNS, a message store in memory)
// and stops it when the test ends. It fails the test with the lab's own
// error if the lab cannot start.
func Start(tb testing.TB, opts ...Option) *Lab {
	tb.Helper()
	l, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	l.tb = tb
	tb.Cleanup(func() { _ = l.Close() })
	return l
}

// New starts a lab as Start does, for code without a testing.TB (an
// Example); the caller must Close it.
func New(opts ...Option) (*Lab, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	state, err := os.MkdirTemp("", "mxlabtest-")
	if err != nil {
		return nil, fmt.Errorf("mxlabtest: %w", err)
	}
	if err := warm.Seed(state); err != nil {
		os.RemoveAll(state)
		return nil, fmt.Errorf("mxlabtest: %w", err)
	}
	var lastErr error
	for range bindAttempts {
		addressing, err := freeAddressing()
		if err != nil {
			os.RemoveAll(state)
			return nil, fmt.Errorf("mxlabtest: %w", err)
		}
		store, err := msgstore.Open(msgstore.Config{})
		if err != nil {
			os.RemoveAll(state)
			return nil, fmt.Errorf("mxlabtest: %w", err)
		}
		l, err := lab.Start(lab.Config{
			StateDir:     state,
			DNS:          "127.0.0.1:0",
			Addressing:   addressing,
			Scenarios:    o.scenarios,
			Records:      o.records,
			SessionsFile: "-",
			Messages:     store,
		})
		if errors.Is(err, lab.ErrBind) {
			// Another lab took the port on one of these addresses
			// between the probe and the bind: take another block.
			lastErr = err
			continue
		}
		if err != nil {
			os.RemoveAll(state)
			return nil, fmt.Errorf("mxlabtest: %w", err)
		}
		_ = warm.Keep(state) // not kept: the next lab makes its own keys
		return &Lab{Lab: l, port: strconv.Itoa(addressing.Port), state: state}, nil
	}
	os.RemoveAll(state)
	return nil, fmt.Errorf("mxlabtest: no free address block after %d attempts: %w", bindAttempts, lastErr)
}

// Close stops the lab and removes its state directory.
func (l *Lab) Close() error {
	err := l.Lab.Close()
	if rmErr := os.RemoveAll(l.state); err == nil {
		err = rmErr
	}
	return err
}

// freeAddressing picks a random /24 in 127.64.0.0/10 (loopback on
// Linux, and away from the 127.0.0.0/16 that other programs use) and a
// port free on its first address: the shared-port layout, one address
// per scenario.
func freeAddressing() (lab.Addressing, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<14))
	if err != nil {
		return lab.Addressing{}, err
	}
	b := n.Int64()
	prefix := netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(64 + b>>8), byte(b), 0}), 24)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(prefix.Addr().Next(), 0).String())
	if err != nil {
		return lab.Addressing{}, fmt.Errorf("loopback %s: %w", prefix, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return lab.Addressing{Port: port, Net: prefix.String()}, nil
}

// Scenario returns a running scenario's site: its address (SMTP),
// domain, MX and host names. An unknown name fails the test (panics for
// a lab from New).
func (l *Lab) Scenario(name string) *lab.Site {
	s, err := l.Layout().Site(name)
	if err != nil {
		if l.tb == nil {
			panic("mxlabtest: " + err.Error())
		}
		l.tb.Helper()
		l.tb.Fatalf("mxlabtest: %v", err)
	}
	return s
}

// DNSAddr is the address of the lab's DNS server, for code that asks DNS
// itself (TLSA with miekg/dns, say).
func (l *Lab) DNSAddr() string { return l.Layout().DNS }

// Resolver returns a resolver that asks the lab's DNS (and nothing
// else), so the code under test looks up the lab's MX and A records
// itself.
func (l *Lab) Resolver() *net.Resolver {
	addr := l.DNSAddr()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// CertPool returns a pool holding only the lab CA.
func (l *Lab) CertPool() *x509.CertPool { return l.CA().CAPool() }

// TLSConfig returns a client configuration for a scenario: the lab CA as
// the only root and the scenario's MX name as the server name, as a
// sender that verifies certificates would use.
func (l *Lab) TLSConfig(scenario string) *tls.Config {
	return &tls.Config{RootCAs: l.CertPool(), ServerName: l.Scenario(scenario).MX}
}

// DialContext connects as code that delivers mail would: port 25 of a
// lab name (an MX, a host or a domain of the zone, resolved through the
// lab's DNS) or of a scenario's address reaches that scenario's
// listener, as does the listener's own address. Any other destination is
// refused, so nothing a test sends leaves the lab.
func (l *Lab) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	target, err := l.route(ctx, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

// route maps a destination to a listener of the lab.
func (l *Lab) route(ctx context.Context, address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("mxlabtest: %w", err)
	}
	if port != "25" && port != "smtp" && port != l.port {
		return "", fmt.Errorf("mxlabtest: %s: the lab routes port 25 (and its own port %s) only", address, l.port)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		name := strings.TrimSuffix(strings.ToLower(host), ".")
		zone := strings.ToLower(l.Layout().Zone)
		if name != zone && !strings.HasSuffix(name, "."+zone) {
			return "", fmt.Errorf("mxlabtest: %s is not in the lab's zone %s", host, zone)
		}
		addrs, err := l.Resolver().LookupNetIP(ctx, "ip4", name)
		if err != nil {
			return "", fmt.Errorf("mxlabtest: %w", err)
		}
		ip = addrs[0]
	}
	for _, s := range l.Layout().Scenarios {
		if s.Addr().Addr() == ip.Unmap() {
			return s.SMTP, nil
		}
	}
	return "", fmt.Errorf("mxlabtest: %s is no scenario's address", ip)
}

// Sessions returns the records of the sessions that ended, oldest first.
func (l *Lab) Sessions() []server.Record { return l.Lab.Sessions().Records() }

// Messages returns the messages the lab accepted, newest first.
func (l *Lab) Messages() []msgstore.Message { return l.Lab.Messages().List() }

// warm is the first lab's state (CA, keys, seed), kept in memory so that
// later labs of the test binary start without generating keys; they
// share its CA.
var warm warmstate.Cache
