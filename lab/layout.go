// Package lab computes the lab's layout — scenario → domain → MX →
// address → certificate → TLSA — once, and hands it to everything else:
// the DNS server, the SMTP listeners, the manifest and the sender.
package lab

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/scenarios"
)

// Layout is where everything in a running lab is.
type Layout struct {
	// Zone is the lab's DNS zone, without the trailing dot.
	Zone string `json:"zone"`
	// DNS is the DNS server's address (host:port).
	DNS string `json:"dns"`
	// CACert is the path of the lab CA certificate.
	CACert string `json:"ca_cert"`
	// Sessions is the path of the sessions file ("" for none).
	Sessions string `json:"sessions"`
	// Accepted is the path of the accepted file, one line per message
	// acknowledged, written before its 250 ("" for none).
	Accepted string `json:"accepted,omitempty"`
	// Scenarios are the running scenarios, in catalogue order.
	Scenarios []*Site `json:"scenarios"`
	// Switchboard is the switchboard listener's address (host:port),
	// "" when there is none.
	Switchboard string `json:"switchboard,omitempty"`
	// API is the HTTP API's address (host:port), "" when there is none.
	API string `json:"api,omitempty"`
	// Spool is the Maildir spool of accepted messages, "" when they are
	// kept in memory.
	Spool string `json:"spool,omitempty"`
	// Advertise is the address the lab's DNS publishes for every
	// listener instead of the one it is bound to ("" when it publishes
	// the bound ones).
	Advertise string `json:"advertise,omitempty"`
	// DNSSEC is the DNS server's mode: "ad" (it sets AD itself) or
	// "signed" (a validating resolver with TrustAnchor does).
	DNSSEC dnslab.Mode `json:"dnssec,omitempty"`
	// TrustAnchor is the signed zone's trust anchor, the key-signing
	// key's DS and DNSKEY (nil in a manifest of an mxlab before DNSSEC).
	TrustAnchor *TrustAnchor `json:"trust_anchor,omitempty"`
	// TLSRPT is the lab's TLS-RPT report endpoint and mailbox (RFC
	// 8460 §3), nil when no running scenario has mta_sts or tls_rpt.
	TLSRPT *TLSRPTEndpoint `json:"tlsrpt,omitempty"`
}

// Site is one scenario's place in the lab.
type Site struct {
	// Name is the scenario's name.
	Name string `json:"name"`
	// Kind is mx or submission.
	Kind scenarios.Kind `json:"kind"`
	// Domain is the scenario's mail domain; any name below it has the
	// same MX.
	Domain string `json:"domain"`
	// MX is the MX host name.
	MX string `json:"mx"`
	// Host is the server's own host name (banner, certificate).
	Host string `json:"host"`
	// SMTP is the listener's address (host:port).
	SMTP string `json:"smtp"`
	// TLSA lists the published TLSA records (owner and RDATA).
	TLSA []TLSARecord `json:"tlsa"`
	// Authenticated says whether the site's DNS answers carry AD: from
	// the lab itself in the ad mode, from a validating resolver in the
	// signed mode. False for an insecure delegation.
	Authenticated bool `json:"dns_authenticated"`
	// CertPath is the PEM file of the certificate served ("" for none).
	CertPath string `json:"cert,omitempty"`
	// MTASTS is the domain's MTA-STS policy host (RFC 8461), nil when
	// the scenario publishes no policy.
	MTASTS *PolicyHost `json:"mta_sts,omitempty"`
	// TLSRPT is the domain's _smtp._tls TXT record (RFC 8460 §3), ""
	// when it publishes none.
	TLSRPT string `json:"tls_rpt,omitempty"`

	scenario  *scenarios.Scenario
	addr      netip.AddrPort
	published netip.Addr // what the DNS publishes for the MX (addr's, or Advertise)
	leaf      *certs.Leaf
	// policyLeaf is the MTA-STS policy host's certificate (nil for none).
	policyLeaf *certs.Leaf
}

// TLSARecord is one published TLSA record.
type TLSARecord struct {
	Owner string `json:"owner"`
	RDATA string `json:"rdata"`
}

// Scenario returns the site's scenario.
func (s *Site) Scenario() *scenarios.Scenario { return s.scenario }

// Addr returns the listener's address.
func (s *Site) Addr() netip.AddrPort { return s.addr }

// Site returns the named site.
func (l *Layout) Site(name string) (*Site, error) {
	var names []string
	for _, s := range l.Scenarios {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return nil, fmt.Errorf("lab: %w %q (running: %s)", scenarios.ErrUnknown, name, strings.Join(names, ", "))
}

// PortFor returns the port of the listener behind an MX host name, 0 for
// a name that is no scenario's MX: senders aimed at the lab need it in
// the one-port-per-scenario layout, where every MX resolves to 127.0.0.1.
func (l *Layout) PortFor(mx string) int {
	mx = strings.TrimSuffix(mx, ".")
	for _, s := range l.Scenarios {
		if strings.EqualFold(s.MX, mx) {
			return int(s.addr.Port())
		}
	}
	return 0
}

// Addressing says where SMTP listeners go.
type Addressing struct {
	// Host is the address of every listener in the one-port-per-scenario
	// layout (default 127.0.0.1).
	Host string
	// Ephemeral binds every listener on port 0 (tests and the in-process
	// lab), so labs never collide.
	Ephemeral bool
	// Port, when set, switches to the shared-port layout: one address per
	// scenario from Net, all on this port (real MTAs deliver to 25).
	Port int
	// Net is the network the shared-port layout takes addresses from, in
	// catalogue order starting at its first host address.
	Net string
	// HTTPSPort is the port of the lab's HTTPS listeners, the MTA-STS
	// policy hosts and the TLS-RPT endpoint. Zero takes 443 in the
	// shared-port layout, where real MTAs fetch policies (RFC 8461 §3.3
	// names no port: https:// is 443), and DefaultHTTPSPort in the
	// one-port-per-scenario layout (a free one with Ephemeral).
	HTTPSPort int
	// Advertise, when set, is the address the lab's DNS publishes for
	// every listener (A or AAAA of each MX) instead of the bound one. A
	// Host that is unspecified (0.0.0.0, ::) needs it: the DNS cannot
	// publish "every address" (issue 14: it published AAAA :: for every
	// MX).
	Advertise string
}

// published returns the address the DNS publishes for a listener bound
// to bound.
func (a Addressing) published(bound netip.Addr) (netip.Addr, error) {
	if a.Advertise == "" {
		if bound.IsUnspecified() {
			return netip.Addr{}, fmt.Errorf("lab: smtp host %s is every address of this machine, which the lab's DNS cannot publish: say which address its MX records should have with --advertise ADDR (config key smtp.advertise)", bound)
		}
		return bound, nil
	}
	ip, err := netip.ParseAddr(a.Advertise)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("lab: advertise %q: want an IP address: %w", a.Advertise, err)
	}
	if ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("lab: advertise %s: an unspecified address cannot be published; give the address clients should reach", ip)
	}
	return ip.Unmap(), nil
}

// plan assigns an address to every scenario.
func (a Addressing) plan(scs []*scenarios.Scenario) ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, len(scs))
	if a.Port != 0 {
		if a.Port < 0 || a.Port > 65535 {
			return nil, fmt.Errorf("lab: smtp port %d is not a port number", a.Port)
		}
		if a.Net == "" {
			return nil, errors.New("lab: the shared-port layout (smtp port set) needs a network, e.g. 127.0.1.0/24")
		}
		prefix, err := netip.ParsePrefix(a.Net)
		if err != nil {
			return nil, fmt.Errorf("lab: smtp net: %w", err)
		}
		addr := prefix.Masked().Addr()
		for i := range scs {
			addr = addr.Next()
			if !prefix.Contains(addr) {
				return nil, fmt.Errorf("lab: smtp net %s has no address for scenario %d of %d", a.Net, i+1, len(scs))
			}
			out[i] = netip.AddrPortFrom(addr, uint16(a.Port))
		}
		return out, nil
	}
	host := a.Host
	if host == "" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, fmt.Errorf("lab: smtp host %q: want an IP address: %w", host, err)
	}
	next := 0
	for _, s := range scs {
		next = max(next, s.Port)
	}
	for i, s := range scs {
		port := s.Port
		if port == 0 { // a user scenario without a default port
			next++
			port = next
		}
		if a.Ephemeral {
			port = 0
		}
		out[i] = netip.AddrPortFrom(ip, uint16(port))
	}
	if _, err := a.published(ip); err != nil {
		return nil, err
	}
	return out, nil
}

// names expands a scenario's name templates for its domain.
type names struct {
	domain, mx, host string
}

func siteNames(s *scenarios.Scenario, zone, seed string) names {
	domain := s.Name + "." + zone
	h := sha256.Sum256([]byte(seed + "/" + s.Name))
	r := strings.NewReplacer("{hex12}", hex.EncodeToString(h[:])[:12])
	return names{
		domain: domain,
		mx:     r.Replace(s.MX) + "." + domain,
		host:   r.Replace(s.Host) + "." + domain,
	}
}

// stateSeed returns the random value that makes {hex12} stable per state
// directory, creating it on first use.
func stateSeed(dir string) (string, error) {
	path := filepath.Join(dir, "seed")
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 16 {
			return s, nil
		}
		return "", fmt.Errorf("lab: %s: too short to be a seed; delete it to make a new one", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("lab: %w", err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	s := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	return s, nil
}

// tlsaOwners are the names a scenario's TLSA record is published at: the
// port the listener really uses (RFC 7672 §2.2.3: a transport with a port
// makes DANE look up _PORT._tcp, docs/interop-recipe.md §6d), _25._tcp, and the
// switchboard's port when there is one (0 for none).
func tlsaOwners(mx string, port, switchboard uint16) []string {
	owners := []string{"_" + strconv.Itoa(int(port)) + "._tcp." + mx}
	for _, p := range []uint16{25, switchboard} {
		if p != 0 && p != port && !slices.Contains(owners, "_"+strconv.Itoa(int(p))+"._tcp."+mx) {
			owners = append(owners, "_"+strconv.Itoa(int(p))+"._tcp."+mx)
		}
	}
	return owners
}

// DefaultStateDir is where the lab keeps its PKI and seed:
// $XDG_STATE_HOME/mxlab, else ~/.local/state/mxlab.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "mxlab")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "mxlab")
	}
	return filepath.Join(os.TempDir(), "mxlab-state")
}
