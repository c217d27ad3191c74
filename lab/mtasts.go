package lab

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/scenarios"
)

// PolicyHost is where a scenario's MTA-STS policy is (RFC 8461): the
// manifest's scenarios[].mta_sts.
type PolicyHost struct {
	// Host is the policy host's name, mta-sts.<domain> (RFC 8461 §3.3).
	Host string `json:"host"`
	// Address is where a fetch of the policy connects (host:port): port
	// 443 in the shared-port layout, the lab's HTTPS port otherwise. For
	// policy: no-policy-host nothing listens there.
	Address string `json:"address"`
	// URL is the policy's URL, https://mta-sts.<domain>/.well-known/mta-sts.txt
	// (RFC 8461 §3.3).
	URL string `json:"url"`
	// TXT is the _mta-sts.<domain> TXT record, "v=STSv1; id=…" (RFC
	// 8461 §3.1).
	TXT string `json:"txt"`
	// Mode is the policy's mode: enforce, testing or none.
	Mode scenarios.STSMode `json:"mode"`
	// Fault is what the policy host does: ok, fetch-fail (HTTP 404),
	// no-policy-host (nothing listens) or bad-cert (a certificate from a
	// CA no client trusts).
	Fault scenarios.PolicyHost `json:"fault"`
	// Policy is the policy file the host serves (RFC 8461 §3.2), with
	// CRLF line ends; for fetch-fail and no-policy-host it is the policy
	// the host would serve.
	Policy string `json:"policy"`
	// CertPath is the PEM file of the policy host's certificate ("" for
	// no-policy-host).
	CertPath string `json:"cert,omitempty"`

	addr netip.AddrPort
}

// TLSRPTEndpoint is where the lab takes TLS-RPT reports (RFC 8460 §3):
// the manifest's tlsrpt.
type TLSRPTEndpoint struct {
	// Host is the endpoint's name, tlsrpt.<zone>, with a lab-CA
	// certificate.
	Host string `json:"host"`
	// Address is the HTTPS listener (host:port) that serves URL.
	Address string `json:"address"`
	// URL is the rua= "https:" URI reports are POSTed to (RFC 8460 §3,
	// §5.4).
	URL string `json:"url"`
	// Mailbox is the rua= "mailto:" address (RFC 8460 §3, §5.3):
	// reports mailed to it, through any scenario's SMTP listener, are
	// parsed into the same store as those POSTed.
	Mailbox string `json:"mailbox"`
	// CertPath is the PEM file of the endpoint's certificate.
	CertPath string `json:"cert"`

	addr netip.AddrPort
	leaf *certs.Leaf
}

// Names and paths fixed by the RFCs.
const (
	// stsPolicyPath is the policy's path (RFC 8461 §3.3).
	stsPolicyPath = "/.well-known/mta-sts.txt"
	// tlsrptPath is the path of the lab's report endpoint; RFC 8460
	// leaves it to the rua= URI.
	tlsrptPath = "/v1/report"
	// tlsrptLocal is the local part of the lab's report mailbox.
	tlsrptLocal = "tlsrpt"
)

// policyHostName is the policy host of a domain (RFC 8461 §3.3).
func policyHostName(domain string) string { return "mta-sts." + domain }

// tlsrptHostName is the report endpoint's name in the lab zone.
func tlsrptHostName(zone string) string { return "tlsrpt." + zone }

// newTLSRPTEndpoint names the endpoint of a lab zone, served at addr.
func newTLSRPTEndpoint(zone string, addr netip.AddrPort) *TLSRPTEndpoint {
	host := tlsrptHostName(zone)
	return &TLSRPTEndpoint{
		Host: host, Address: addr.String(), URL: "https://" + host + tlsrptPath,
		Mailbox: tlsrptLocal + "@" + host, addr: addr,
	}
}

// stsTXT is the _mta-sts TXT record (RFC 8461 §3.1).
func stsTXT(m *scenarios.MTASTS) string { return "v=STSv1; id=" + m.ID }

// stsPolicy is the policy file (RFC 8461 §3.2): "key: value" lines
// ending in CRLF, version first, one mx line per pattern.
func stsPolicy(m *scenarios.MTASTS, mx, domain string) string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\n")
	b.WriteString("mode: " + string(m.Mode) + "\r\n")
	r := strings.NewReplacer("{mx}", mx, "{domain}", domain)
	for _, p := range m.MX {
		b.WriteString("mx: " + strings.ToLower(r.Replace(p)) + "\r\n")
	}
	b.WriteString("max_age: " + strconv.Itoa(m.MaxAge) + "\r\n")
	return b.String()
}

// tlsrptTXT is the _smtp._tls TXT record of a scenario (RFC 8460 §3):
// its rua= URIs, comma-separated, in the order tls_rpt lists them.
func tlsrptTXT(kinds []scenarios.TLSRPT, ep *TLSRPTEndpoint) string {
	var uris []string
	for _, k := range kinds {
		switch k {
		case scenarios.TLSRPTHTTPS:
			uris = append(uris, ep.URL)
		case scenarios.TLSRPTMailto:
			uris = append(uris, "mailto:"+ep.Mailbox)
		}
	}
	return "v=TLSRPTv1; rua=" + strings.Join(uris, ",")
}

// needsHTTPS reports whether any scenario needs the lab's HTTPS
// listeners: a policy host or the report endpoint.
func needsHTTPS(scs []*scenarios.Scenario) bool {
	for _, sc := range scs {
		if sc.MTASTS != nil || len(sc.TLSRPT) > 0 {
			return true
		}
	}
	return false
}

// addSTSRecords publishes a site's _mta-sts TXT (RFC 8461 §3.1), the A or
// AAAA of its policy host, and its _smtp._tls TXT (RFC 8460 §3).
func addSTSRecords(zone *dnslab.Zone, site *Site, published netip.Addr) error {
	ttl := strconv.Itoa(DNSTTL)
	var lines []string
	if p := site.MTASTS; p != nil {
		lines = append(lines,
			"_mta-sts."+site.Domain+". "+ttl+" IN TXT "+strconv.Quote(p.TXT),
			p.Host+". "+ttl+" IN "+addrRecord(published))
	}
	if site.TLSRPT != "" {
		lines = append(lines, "_smtp._tls."+site.Domain+". "+ttl+" IN TXT "+strconv.Quote(site.TLSRPT))
	}
	return addLines(zone, lines)
}

// addTLSRPTRecords publishes the report endpoint's address and, when the
// baseline scenario runs, an MX for its mailbox's domain: mail for
// tlsrpt@tlsrpt.<zone> then reaches a server that takes it (RFC 8460
// §3, "mailto:").
func addTLSRPTRecords(zone *dnslab.Zone, ep *TLSRPTEndpoint, published netip.Addr, sites []*Site) error {
	ttl := strconv.Itoa(DNSTTL)
	lines := []string{ep.Host + ". " + ttl + " IN " + addrRecord(published)}
	for _, s := range sites {
		if s.Name == "baseline" {
			lines = append(lines, ep.Host+". "+ttl+" IN MX 10 "+s.MX+".")
		}
	}
	return addLines(zone, lines)
}

// addrRecord is "A ip" or "AAAA ip".
func addrRecord(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		return "AAAA " + ip.String()
	}
	return "A " + ip.Unmap().String()
}

func addLines(zone *dnslab.Zone, lines []string) error {
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			return fmt.Errorf("dns record %q: %w", line, err)
		}
		zone.Add(rr)
	}
	return nil
}

// addSTS gives a site its MTA-STS policy host at addr and its TLS-RPT
// record naming ep, and publishes them.
func (l *Lab) addSTS(site *Site, cfg Config, addr netip.AddrPort, ep *TLSRPTEndpoint, zone *dnslab.Zone) error {
	sc := site.scenario
	if len(sc.TLSRPT) > 0 {
		site.TLSRPT = tlsrptTXT(sc.TLSRPT, ep)
	}
	var published netip.Addr
	if m := sc.MTASTS; m != nil {
		host := policyHostName(site.Domain)
		p := &PolicyHost{
			Host: host, Address: addr.String(), URL: "https://" + host + stsPolicyPath, TXT: stsTXT(m),
			Mode: m.Mode, Fault: m.Policy, Policy: stsPolicy(m, site.MX, site.Domain), addr: addr,
		}
		if spec, ok := PolicyLeafSpec(sc, "mta-sts."+sc.Name, host); ok {
			leaf, err := l.store.Leaf(spec)
			if err != nil {
				return fmt.Errorf("lab: scenario %s: mta-sts: %w", sc.Name, err)
			}
			site.policyLeaf, p.CertPath = leaf, leaf.CertPath
		}
		site.MTASTS = p
		var err error
		if published, err = cfg.Addressing.published(addr.Addr()); err != nil {
			return err
		}
	}
	if err := addSTSRecords(zone, site, published); err != nil {
		return fmt.Errorf("lab: scenario %s: %w", sc.Name, err)
	}
	return nil
}

// addHTTPSSites places the report endpoint and every site's policy host
// as hp planned them, issues their certificates and publishes their
// records.
func (l *Lab) addHTTPSSites(layout *Layout, hp *httpsPlan, cfg Config, zone *dnslab.Zone) error {
	var ep *TLSRPTEndpoint
	if hp.tlsrpt.IsValid() {
		ep = newTLSRPTEndpoint(cfg.Zone, hp.tlsrpt)
		leaf, err := l.store.Leaf(TLSRPTLeafSpec(ep.Host))
		if err != nil {
			return fmt.Errorf("lab: tlsrpt: %w", err)
		}
		ep.leaf, ep.CertPath = leaf, leaf.CertPath
		layout.TLSRPT = ep
	}
	for i, site := range layout.Scenarios {
		if err := l.addSTS(site, cfg, hp.policy[i], ep, zone); err != nil {
			return err
		}
	}
	if ep == nil {
		return nil
	}
	published, err := cfg.Addressing.published(ep.addr.Addr())
	if err != nil {
		return err
	}
	if err := addTLSRPTRecords(zone, ep, published, layout.Scenarios); err != nil {
		return fmt.Errorf("lab: tlsrpt: %w", err)
	}
	return nil
}
