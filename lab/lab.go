package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/server"
	"github.com/mxlab/mxlab/tlsrpt"
)

// Defaults of a lab started with no configuration.
const (
	DefaultZone = "mxlab.test"
	// DefaultDNS is unprivileged and not 5353 (mDNS).
	DefaultDNS = "127.0.0.1:10053"
	// DNSTTL is short so that MTAs that cache (Postfix caches TLSA by TTL)
	// see a restarted lab at once.
	DNSTTL = 1
)

// ErrBind is wrapped by errors for a listener that cannot be bound (the
// CLI exits 71, EX_OSERR).
var ErrBind = errors.New("cannot bind")

// ErrConfig is wrapped by errors in the lab's configuration: the zone,
// the addressing, the state directory, extra records, a scenario's
// certificate files or TLS settings (the CLI exits 78, EX_CONFIG). An
// unknown scenario name wraps scenarios.ErrUnknown instead.
var ErrConfig = errors.New("bad configuration")

// configError marks err as a configuration error unless it already says
// what it is.
func configError(err error) error {
	if err == nil || errors.Is(err, ErrBind) || errors.Is(err, scenarios.ErrUnknown) || errors.Is(err, ErrConfig) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrConfig, err)
}

// Config is a lab's configuration; zero values take the defaults.
type Config struct {
	// Zone is the lab's DNS zone (default mxlab.test).
	Zone string
	// StateDir keeps the PKI and the seed (default DefaultStateDir()).
	StateDir string
	// DNS is the DNS server's listen address (default 127.0.0.1:10053;
	// port 0 picks a free one).
	DNS string
	// Addressing places the SMTP listeners.
	Addressing Addressing
	// Catalogue holds the scenarios (default: the built-in catalogue).
	Catalogue *scenarios.Catalogue
	// Scenarios names the scenarios to run (default: all).
	Scenarios []string
	// Records are extra DNS records in zone-file syntax.
	Records []string
	// DNSSEC is the DNS server's mode (dnslab.Mode): "ad" (the default)
	// sets AD itself and answers a bogus RRset with SERVFAIL, for setups
	// with no validating resolver (the sender, the matrix in-process);
	// "signed" never sets AD, for a validating resolver given the
	// manifest's trust_anchor. The zone is signed in both, with keys kept
	// in <StateDir>/dnssec.
	DNSSEC dnslab.Mode
	// SessionsFile is where session records go (default
	// <StateDir>/sessions.jsonl; "-" keeps them in memory only).
	SessionsFile string
	// AcceptedFile is where a line for every acknowledged message goes,
	// before its 250 (default: accepted.jsonl beside the sessions file,
	// none when there is no sessions file; "-" for none).
	AcceptedFile string
	// Manifest is written once every listener answers ("" for none).
	Manifest string
	// Messages keeps the messages clients deliver; nil discards them.
	Messages *msgstore.Store
	// Switchboard is the address of the switchboard listener, which
	// applies whichever scenario is selected ("" for none; port 0 picks
	// a free one).
	Switchboard string
	// SwitchboardScenario is the scenario the switchboard starts with
	// (default: the first one running).
	SwitchboardScenario string
	// API is the address of the HTTP API, for the manifest; the lab
	// does not serve it ("" for none).
	API string
	// AuthUsers, when set, restricts AUTH on every scenario that offers
	// it to these credentials (user: password).
	AuthUsers map[string]string
	// Timeouts bound each SMTP phase.
	Timeouts server.Timeouts
	// Limits bound recipients, errors, message size and connections
	// (zero values: each scenario's imitated server's defaults).
	Limits server.Limits
	// TLSRPT keeps the TLS-RPT reports POSTed to the lab's endpoint
	// (Layout.TLSRPT); nil: the lab keeps its own. Reports mailed to the
	// endpoint's mailbox reach the same store through MailedReports,
	// installed as Messages' msgstore.Config.OnDeliver.
	TLSRPT *tlsrpt.Store
	// Logger receives the lab's log; nil discards.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	switchboardPort uint16 // bound by Start, for the TLSA owners
}

// Lab is a running lab.
type Lab struct {
	layout   *Layout
	dns      *dnslab.Server
	servers  []*server.Server
	switches *server.Switchboard
	messages *msgstore.Store
	failed   atomic.Pointer[error]
	closed   atomic.Bool
	sessions *server.SessionLog
	accepted *server.AcceptedLog
	store    *certs.Store
	https    *httpsServer
	sockets  *httpsListeners
	reports  *tlsrpt.Store
	wg       sync.WaitGroup
	errs     chan error
	once     sync.Once
}

// prepared is a configuration with its defaults, scenarios, PKI and
// planned addresses.
type prepared struct {
	cfg      Config
	selected []*scenarios.Scenario
	seed     string
	store    *certs.Store
	addrs    []netip.AddrPort
	keys     *dnslab.Keys
}

func prepare(cfg Config) (*prepared, error) {
	var err error
	if cfg.Zone == "" {
		cfg.Zone = DefaultZone
	}
	cfg.Zone = strings.TrimSuffix(strings.ToLower(cfg.Zone), ".")
	if _, ok := dns.IsDomainName(cfg.Zone); !ok || !strings.Contains(cfg.Zone, ".") && cfg.Zone != "test" {
		return nil, fmt.Errorf("lab: zone %q is not a domain name", cfg.Zone)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir()
	}
	if cfg.DNS == "" {
		cfg.DNS = DefaultDNS
	}
	if cfg.DNSSEC, err = dnslab.ParseMode(string(cfg.DNSSEC)); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Catalogue == nil {
		if cfg.Catalogue, err = scenarios.Builtin(); err != nil {
			return nil, err
		}
	}
	selected, err := cfg.Catalogue.Select(cfg.Scenarios)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("lab: state dir: %w", err)
	}
	seed, err := stateSeed(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	store, err := certs.Open(filepath.Join(cfg.StateDir, "pki"), cfg.Now)
	if err != nil {
		return nil, err
	}
	addrs, err := cfg.Addressing.plan(selected)
	if err != nil {
		return nil, err
	}
	keys, err := loadKeys(cfg.StateDir, cfg.Zone)
	if err != nil {
		return nil, err
	}
	return &prepared{cfg: cfg, selected: selected, seed: seed, store: store, addrs: addrs, keys: keys}, nil
}

// newZone returns the lab's empty zone, signed with the lab's keys in the
// configured mode.
func (p *prepared) newZone() *dnslab.Zone {
	zone := dnslab.NewZone(p.cfg.Zone+".", DNSTTL)
	zone.Keys = p.keys
	zone.Mode = p.cfg.DNSSEC
	zone.Now = p.cfg.Now
	return zone
}

// Plan computes the layout a lab with this configuration would have,
// without binding anything (ephemeral ports show as 0). The DNS address
// is the configured one.
func Plan(cfg Config) (*Layout, error) {
	p, err := prepare(cfg)
	if err != nil {
		return nil, configError(err)
	}
	l := &Lab{store: p.store}
	layout := &Layout{Zone: p.cfg.Zone, DNS: p.cfg.DNS, CACert: p.store.CAPath(),
		DNSSEC: p.cfg.DNSSEC, TrustAnchor: newTrustAnchor(p.keys, p.cfg.Zone)}
	zone := p.newZone()
	hp, err := p.cfg.Addressing.planHTTPS(p.selected, p.addrs)
	if err != nil {
		return nil, configError(err)
	}
	for i, sc := range p.selected {
		site, err := l.site(sc, p.cfg, p.seed, p.addrs[i], zone)
		if err != nil {
			return nil, configError(err)
		}
		layout.Scenarios = append(layout.Scenarios, site)
	}
	if err := l.addHTTPSSites(layout, hp, p.cfg, zone); err != nil {
		return nil, configError(err)
	}
	return layout, nil
}

// Start brings up the lab: it computes the layout, binds every SMTP
// listener, issues certificates, starts DNS, and writes the manifest.
// On error nothing stays running.
func Start(cfg Config) (_ *Lab, err error) {
	p, err := prepare(cfg)
	if err != nil {
		return nil, configError(err)
	}
	cfg, selected, seed, store, addrs := p.cfg, p.selected, p.seed, p.store, p.addrs
	if cfg.TLSRPT == nil {
		cfg.TLSRPT = &tlsrpt.Store{Now: cfg.Now}
	}
	l := &Lab{store: store, messages: cfg.Messages, reports: cfg.TLSRPT, errs: make(chan error, 2*len(selected)+3)}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()

	// Bind first: the ports are part of the layout (TLSA owners), and a
	// busy port should fail before anything else starts.
	listeners := make([]net.Listener, len(selected))
	defer func() {
		if err != nil {
			for _, ln := range listeners {
				if ln != nil {
					ln.Close()
				}
			}
		}
	}()
	for i, sc := range selected {
		ln, lerr := net.Listen("tcp", addrs[i].String())
		if lerr != nil {
			return nil, fmt.Errorf("lab: scenario %s: listen on %s: %w: %w", sc.Name, addrs[i], ErrBind, lerr)
		}
		listeners[i] = ln
		addrs[i] = ln.Addr().(*net.TCPAddr).AddrPort()
	}
	var sbLn net.Listener
	if cfg.Switchboard != "" {
		if sbLn, err = net.Listen("tcp", cfg.Switchboard); err != nil {
			return nil, fmt.Errorf("lab: switchboard: listen on %s: %w: %w", cfg.Switchboard, ErrBind, err)
		}
		defer func() {
			if err != nil {
				sbLn.Close()
			}
		}()
		// Every scenario's TLSA is also published at the switchboard's
		// port: a DANE client sent to [MX]:PORT looks up _PORT._tcp.MX.
		cfg.switchboardPort = sbLn.Addr().(*net.TCPAddr).AddrPort().Port()
	}
	hp, err := cfg.Addressing.planHTTPS(selected, addrs)
	if err != nil {
		return nil, configError(err)
	}
	if l.sockets, err = hp.bind(); err != nil {
		return nil, err
	}

	sessionsPath := cfg.SessionsFile
	switch sessionsPath {
	case "":
		sessionsPath = filepath.Join(cfg.StateDir, "sessions.jsonl")
	case "-":
		sessionsPath = ""
	}
	if l.sessions, err = server.NewSessionLog(sessionsPath, 0); err != nil {
		return nil, configError(err)
	}
	if cfg.Messages != nil {
		// Messages kept in a spool name sessions of earlier runs: go on
		// after their ids, so that no id names two sessions.
		var ids []string
		for _, m := range cfg.Messages.List() {
			ids = append(ids, m.Session)
		}
		l.sessions.ContinueAfter(ids)
	}
	acceptedPath := cfg.AcceptedFile
	switch {
	case acceptedPath == "-":
		acceptedPath = ""
	case acceptedPath == "" && sessionsPath != "":
		acceptedPath = filepath.Join(filepath.Dir(sessionsPath), "accepted.jsonl")
	}
	if acceptedPath != "" {
		if l.accepted, err = server.NewAcceptedLog(acceptedPath); err != nil {
			return nil, configError(err)
		}
	}
	layout := &Layout{Zone: cfg.Zone, CACert: store.CAPath(), Sessions: sessionsPath, Accepted: acceptedPath, API: cfg.API,
		Advertise: cfg.Addressing.Advertise, DNSSEC: cfg.DNSSEC, TrustAnchor: newTrustAnchor(p.keys, cfg.Zone)}
	if cfg.Messages != nil {
		layout.Spool = cfg.Messages.Spool()
	}
	zone := p.newZone()
	for i, sc := range selected {
		site, serr := l.site(sc, cfg, seed, addrs[i], zone)
		if serr != nil {
			return nil, configError(serr)
		}
		layout.Scenarios = append(layout.Scenarios, site)
	}
	if err := l.addHTTPSSites(layout, hp, cfg, zone); err != nil {
		return nil, configError(err)
	}
	extra, err := dnslab.ParseRecords(cfg.Zone+".", cfg.Records, DNSTTL)
	if err != nil {
		return nil, configError(err)
	}
	zone.Add(extra...)
	if err := zone.Validate(); err != nil {
		return nil, configError(err)
	}
	if l.dns, err = dnslab.Start(cfg.DNS, zone, cfg.Logger.With("component", "dns")); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("lab: dns: %w: %w", ErrBind, err)
		}
		return nil, err
	}
	layout.DNS = l.dns.Addr()

	for i, site := range layout.Scenarios {
		srv, serr := l.newServer(site, cfg)
		if serr != nil {
			return nil, configError(serr)
		}
		l.servers = append(l.servers, srv)
		ln := listeners[i]
		listeners[i] = nil // owned by the server now
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := srv.Serve(ln); err != nil {
				l.fail(err)
			}
		}()
	}
	if err := l.serveHTTPS(layout, cfg.Logger); err != nil {
		return nil, err
	}
	if sbLn != nil {
		initial := cfg.SwitchboardScenario
		if initial == "" {
			initial = selected[0].Name
		}
		if l.switches, err = server.NewSwitchboard(l.servers, initial); err != nil {
			return nil, err
		}
		layout.Switchboard = sbLn.Addr().String()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := l.switches.Serve(sbLn); err != nil {
				l.fail(err)
			}
		}()
	}
	l.layout = layout
	if cfg.Manifest != "" {
		if err := WriteManifest(cfg.Manifest, layout); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// site computes one scenario's names, certificate and DNS records.
func (l *Lab) site(sc *scenarios.Scenario, cfg Config, seed string, addr netip.AddrPort, zone *dnslab.Zone) (*Site, error) {
	n := siteNames(sc, cfg.Zone, seed)
	site := &Site{
		Name: sc.Name, Kind: sc.Kind, Domain: n.domain, MX: n.mx, Host: n.host,
		SMTP: addr.String(), Authenticated: sc.DNS.IsAuthenticated(), TLSA: []TLSARecord{},
		scenario: sc, addr: addr,
	}
	var err error
	if site.published, err = cfg.Addressing.published(addr.Addr()); err != nil {
		return nil, err
	}
	switch sc.TLS.Certificate {
	case scenarios.CertCASigned, scenarios.CertSelfSigned:
		spec, _ := LeafSpec(sc, sc.Name, n.mx, n.host, n.domain)
		site.leaf, err = l.store.Leaf(spec)
	case scenarios.CertFile:
		site.leaf, err = certs.LoadFiles(sc.TLS.CertFile, sc.TLS.KeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", sc.Name, err)
	}
	if site.leaf != nil {
		site.CertPath = site.leaf.CertPath
	}

	// The TLSA record describes the served key, or (tlsa: previous) the
	// key of the certificate before a rollover.
	tlsaCert := site.leaf
	if sc.DNS.TLSA == scenarios.TLSAPrevious {
		if tlsaCert, err = l.store.Leaf(PreviousLeafSpec(sc, sc.Name, n.mx, n.host, n.domain)); err != nil {
			return nil, fmt.Errorf("lab: scenario %s: %w", sc.Name, err)
		}
	}
	if sc.DNS.TLSA != scenarios.TLSANone {
		t, err := certs.NewTLSA(tlsaCert.Cert, certs.UsageDANEEE, certs.SelectorSPKI, certs.MatchSHA256)
		if err != nil {
			return nil, err
		}
		for _, owner := range tlsaOwners(n.mx, addr.Port(), cfg.switchboardPort) {
			site.TLSA = append(site.TLSA, TLSARecord{Owner: owner, RDATA: t.String()})
		}
	}
	if err := addSiteRecords(zone, site); err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", sc.Name, err)
	}
	return site, nil
}

// addSiteRecords publishes a site: MX for its domain and every name below
// it (a wildcard, so tests can use many recipient domains: real MTAs
// throttle a destination after a failure), A or AAAA for its hosts, and
// its TLSA records.
func addSiteRecords(zone *dnslab.Zone, site *Site) error {
	ttl := fmt.Sprint(DNSTTL)
	pub := site.published
	if !pub.IsValid() {
		pub = site.addr.Addr()
	}
	if pub.IsUnspecified() {
		return fmt.Errorf("lab: %s would be published as %s, which is no address", site.MX, pub)
	}
	rrType := "A"
	if pub.Is6() && !pub.Is4In6() {
		rrType = "AAAA"
	}
	ip := pub.Unmap().String()
	lines := []string{
		site.Domain + ". " + ttl + " IN MX 10 " + site.MX + ".",
		"*." + site.Domain + ". " + ttl + " IN MX 10 " + site.MX + ".",
		site.MX + ". " + ttl + " IN " + rrType + " " + ip,
	}
	if site.Host != site.MX {
		lines = append(lines, site.Host+". "+ttl+" IN "+rrType+" "+ip)
	}
	for _, t := range site.TLSA {
		lines = append(lines, t.Owner+". "+ttl+" IN TLSA "+t.RDATA)
	}
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			return fmt.Errorf("dns record %q: %w", line, err)
		}
		zone.Add(rr)
	}
	addDNSSEC(zone, site)
	return nil
}

func (l *Lab) newServer(site *Site, cfg Config) (*server.Server, error) {
	sc := site.scenario
	if cfg.AuthUsers != nil && sc.SMTP.Auth != nil {
		copied := *sc
		auth := *sc.SMTP.Auth
		auth.Users = cfg.AuthUsers
		copied.SMTP.Auth = &auth
		sc = &copied
	}
	d, err := cfg.Catalogue.Dialect(sc.Imitates)
	if err != nil {
		return nil, err
	}
	scfg := server.Config{
		Scenario: sc, Dialect: d, Host: site.Host, Sessions: l.sessions, Accepted: l.accepted, Messages: cfg.Messages,
		Logger: cfg.Logger, Timeouts: cfg.Timeouts, Limits: cfg.Limits, Now: cfg.Now,
	}
	if site.leaf != nil {
		scfg.Certificate = &site.leaf.TLS
	}
	return server.New(scfg)
}

// Layout returns where everything is.
func (l *Lab) Layout() *Layout { return l.layout }

// Sessions returns the session records.
func (l *Lab) Sessions() *server.SessionLog { return l.sessions }

// CA returns the lab's PKI.
func (l *Lab) CA() *certs.Store { return l.store }

// Messages returns the message store (nil when messages are discarded).
func (l *Lab) Messages() *msgstore.Store { return l.messages }

// TLSRPT returns the store of the TLS-RPT reports POSTed to the lab's
// endpoint (and mailed to its mailbox, see MailedReports): Config.TLSRPT,
// or the lab's own.
func (l *Lab) TLSRPT() *tlsrpt.Store { return l.reports }

// Switchboard returns the switchboard (nil when the lab has none).
func (l *Lab) Switchboard() *server.Switchboard { return l.switches }

// Err receives an error if a listener fails while the lab runs.
func (l *Lab) Err() <-chan error { return l.errs }

// fail reports a listener that stopped.
func (l *Lab) fail(err error) {
	l.failed.CompareAndSwap(nil, &err)
	l.errs <- err
}

// Health returns nil while every listener and the DNS server run: once
// Start has returned, each has answered, and a listener that stops
// reports it. The DNS server is asked again (the zone's SOA), since a
// question leaves no trace; an SMTP listener is not, since a connection
// would be a session in the records.
func (l *Lab) Health() error {
	if err := l.failed.Load(); err != nil {
		return *err
	}
	if l.closed.Load() {
		return errors.New("lab: closed")
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(l.layout.Zone), dns.TypeSOA)
	c := &dns.Client{Timeout: healthTimeout}
	if _, _, err := c.Exchange(q, l.layout.DNS); err != nil {
		return fmt.Errorf("lab: the DNS server at %s does not answer: %w", l.layout.DNS, err)
	}
	return nil
}

// healthTimeout bounds Health's DNS question.
const healthTimeout = 2 * time.Second

// Close stops every listener and the DNS server and flushes the records.
func (l *Lab) Close() error {
	var errs []error
	l.once.Do(func() {
		l.closed.Store(true)
		if l.switches != nil {
			errs = append(errs, l.switches.Close())
		}
		for _, s := range l.servers {
			errs = append(errs, s.Close())
		}
		if l.https != nil {
			errs = append(errs, l.https.srv.Close())
		}
		l.wg.Wait()
		if l.sockets != nil {
			l.sockets.close()
		}
		if l.dns != nil {
			errs = append(errs, l.dns.Close())
		}
		if l.sessions != nil {
			errs = append(errs, l.sessions.Close())
		}
		if l.accepted != nil {
			errs = append(errs, l.accepted.Close())
		}
	})
	return errors.Join(errs...)
}

// WriteManifest writes the layout as JSON, to a temporary name first and
// then renamed, so a reader never sees half a manifest.
func WriteManifest(path string, layout *Layout) error {
	data, err := json.MarshalIndent(layout, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: manifest: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".manifest-*")
	if err != nil {
		return fmt.Errorf("lab: manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("lab: manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("lab: manifest: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("lab: manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("lab: manifest: %w", err)
	}
	return nil
}

// ReadManifest loads a manifest written by WriteManifest (or by another
// process's `mxlab serve --manifest`).
func ReadManifest(path string) (*Layout, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab: manifest: %w", err)
	}
	var l Layout
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("lab: manifest %s: %w", path, err)
	}
	if l.Zone == "" || l.DNS == "" || len(l.Scenarios) == 0 {
		return nil, fmt.Errorf("lab: manifest %s: missing zone, dns or scenarios", path)
	}
	for _, s := range l.Scenarios {
		ap, err := netip.ParseAddrPort(s.SMTP)
		if err != nil {
			return nil, fmt.Errorf("lab: manifest %s: scenario %s: smtp: %w", path, s.Name, err)
		}
		s.addr = ap
	}
	return &l, nil
}
