package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS is what the sender asks of DNS: the seam between an attempt and
// its resolver. Each answer says whether it was authenticated (the AD
// bit of a validating resolver, RFC 4035 §3.2.3). Errors wrap ErrNXDomain
// or ErrServfail. *Resolver implements it; tests use fakes.
type DNS interface {
	// LookupMX returns the MX hosts, best first (the domain itself when
	// it has no MX, RFC 5321 §5.1).
	LookupMX(ctx context.Context, domain string) (hosts []string, authenticated bool, err error)
	// LookupAddr returns the host's first IPv4 address, else IPv6.
	LookupAddr(ctx context.Context, host string) (ip net.IP, authenticated bool, err error)
	// LookupTLSA returns the TLSA records at _port._tcp.host; an
	// authenticated NXDOMAIN is no records, authenticated.
	LookupTLSA(ctx context.Context, host string, port int) (rrs []*dns.TLSA, authenticated bool, err error)
	// LookupTXT returns the TXT records at name, each record's strings
	// joined into one (RFC 8461 §3.1 reads a record so); NXDOMAIN is no
	// records, as for TLSA.
	LookupTXT(ctx context.Context, name string) (txts []string, authenticated bool, err error)
}

var _ DNS = (*Resolver)(nil)

// Resolver asks one DNS server, with the DO and AD bits set, and reports
// whether each answer was authenticated: the sender trusts the AD bit of
// its resolver, as Postfix does.
type Resolver struct {
	// Addr is the server, host:port.
	Addr string
	// Timeout bounds one query (default 5s).
	Timeout time.Duration
}

// SystemResolver returns the first nameserver of /etc/resolv.conf.
func SystemResolver() (*Resolver, error) {
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("sender: system resolver: %w", err)
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("sender: system resolver: no nameserver in /etc/resolv.conf")
	}
	return &Resolver{Addr: net.JoinHostPort(cfg.Servers[0], cfg.Port)}, nil
}

// Errors a lookup ends with.
var (
	ErrNXDomain = errors.New("NXDOMAIN")
	ErrServfail = errors.New("DNS failure")
)

// answer is one lookup's records and whether they were authenticated.
type answer struct {
	rrs  []dns.RR
	ad   bool
	code int
}

func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (answer, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	m.AuthenticatedData = true
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	c := &dns.Client{Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, r.Addr)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, r.Addr)
	}
	if err != nil {
		return answer{}, fmt.Errorf("%w: %s %s: %w", ErrServfail, name, dns.TypeToString[qtype], err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return answer{ad: resp.AuthenticatedData, code: resp.Rcode}, fmt.Errorf("%w: %s %s", ErrNXDomain, name, dns.TypeToString[qtype])
	default:
		return answer{}, fmt.Errorf("%w: %s %s: %s", ErrServfail, name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode])
	}
	var rrs []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype {
			rrs = append(rrs, rr)
		}
	}
	return answer{rrs: rrs, ad: resp.AuthenticatedData, code: resp.Rcode}, nil
}

// LookupMX implements DNS.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]string, bool, error) {
	a, err := r.query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, false, err
	}
	mxs := make([]*dns.MX, 0, len(a.rrs))
	for _, rr := range a.rrs {
		mxs = append(mxs, rr.(*dns.MX))
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	var hosts []string
	for _, mx := range mxs {
		hosts = append(hosts, strings.TrimSuffix(mx.Mx, "."))
	}
	if len(hosts) == 0 {
		return []string{domain}, a.ad, nil
	}
	return hosts, a.ad, nil
}

// LookupAddr implements DNS.
func (r *Resolver) LookupAddr(ctx context.Context, host string) (net.IP, bool, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, false, nil
	}
	a, err := r.query(ctx, host, dns.TypeA)
	if err == nil && len(a.rrs) > 0 {
		return a.rrs[0].(*dns.A).A, a.ad, nil
	}
	a6, err6 := r.query(ctx, host, dns.TypeAAAA)
	if err6 == nil && len(a6.rrs) > 0 {
		return a6.rrs[0].(*dns.AAAA).AAAA, a6.ad, nil
	}
	if err != nil {
		return nil, false, err
	}
	return nil, false, fmt.Errorf("%w: %s has no address", ErrNXDomain, host)
}

// LookupTLSA implements DNS.
func (r *Resolver) LookupTLSA(ctx context.Context, host string, port int) ([]*dns.TLSA, bool, error) {
	owner := fmt.Sprintf("_%d._tcp.%s", port, host)
	a, err := r.query(ctx, owner, dns.TypeTLSA)
	if errors.Is(err, ErrNXDomain) {
		return nil, a.ad, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out []*dns.TLSA
	for _, rr := range a.rrs {
		out = append(out, rr.(*dns.TLSA))
	}
	return out, a.ad, nil
}

// LookupTXT implements DNS.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, bool, error) {
	a, err := r.query(ctx, name, dns.TypeTXT)
	if errors.Is(err, ErrNXDomain) {
		return nil, a.ad, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out []string
	for _, rr := range a.rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, a.ad, nil
}

// String is the server the resolver asks.
func (r *Resolver) String() string { return r.Addr }
