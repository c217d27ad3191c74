package lab

import (
	"strings"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/scenarios"
)

// LeafSpec is the certificate the lab serves for a scenario whose MX
// host, own host name and domain are mx, host and domain: its tls.names
// expanded, and its key, issuer, chain and validity knobs. The lab issues
// its own certificates with it, and so must anything that stands in for
// the scenario (a reference server in a test), so that both serve the
// same kind of certificate. name is the store's name for the leaf.
// Scenarios with certificate: none or file have no spec (ok false).
func LeafSpec(sc *scenarios.Scenario, name, mx, host, domain string) (spec certs.LeafSpec, ok bool) {
	if sc.TLS.Certificate != scenarios.CertCASigned && sc.TLS.Certificate != scenarios.CertSelfSigned {
		return certs.LeafSpec{}, false
	}
	// Validated when the scenario loaded.
	notBefore, _ := sc.TLS.NotBefore.Duration("")
	notAfter, _ := sc.TLS.NotAfter.Duration("")
	spec = certs.LeafSpec{
		Name: name, DNSNames: expandNames(sc.TLS.Names, mx, host, domain), Key: certs.KeyType(sc.TLS.Key),
		Issuer: certs.Issuer(sc.TLS.Issuer), Chain: certs.Chain(sc.TLS.Chain),
		NotBefore: notBefore, NotAfter: notAfter,
	}
	if sc.TLS.Certificate == scenarios.CertSelfSigned {
		spec.Issuer, spec.Chain = certs.IssuerSelf, certs.ChainFull
	}
	return spec, true
}

// PreviousLeafSpec is the certificate of the key before a rollover, which
// a scenario with dns.tlsa: previous names in its TLSA record.
func PreviousLeafSpec(sc *scenarios.Scenario, name, mx, host, domain string) certs.LeafSpec {
	return certs.LeafSpec{Name: name + ".previous", DNSNames: expandNames(sc.TLS.Names, mx, host, domain), Key: certs.KeyType(sc.TLS.Key)}
}

// expandNames expands tls.names templates ({mx}, {host}, {domain}).
func expandNames(tmpls []string, mx, host, domain string) []string {
	r := strings.NewReplacer("{mx}", mx, "{host}", host, "{domain}", domain)
	out := make([]string, 0, len(tmpls))
	for _, t := range tmpls {
		out = append(out, r.Replace(t))
	}
	return out
}

// PolicyLeafSpec is the certificate of a scenario's MTA-STS policy host
// host (mta-sts.<domain>), whose store name is name. RFC 8461 §3.3
// requires it to be valid for that name and to chain to a trusted root:
// policy: bad-cert signs it with the untrusted CA, so that the fetch
// fails PKIX ("unable to get local issuer certificate") while the name
// still matches. Scenarios without mta_sts, or with no-policy-host, have
// no spec (ok false).
func PolicyLeafSpec(sc *scenarios.Scenario, name, host string) (spec certs.LeafSpec, ok bool) {
	if sc.MTASTS == nil || sc.MTASTS.Policy == scenarios.PolicyNoHost {
		return certs.LeafSpec{}, false
	}
	spec = certs.LeafSpec{Name: name, DNSNames: []string{host}, Key: certs.ECDSAP256, Issuer: certs.IssuerCA}
	if sc.MTASTS.Policy == scenarios.PolicyBadCert {
		spec.Issuer = certs.IssuerUntrusted
	}
	return spec, true
}

// TLSRPTLeafSpec is the certificate of the lab's TLS-RPT endpoint host
// (tlsrpt.<zone>): from the lab CA, as an "https:" rua needs one a
// reporting sender trusts (RFC 8460 §5.4: HTTPS transport).
func TLSRPTLeafSpec(host string) certs.LeafSpec {
	return certs.LeafSpec{Name: "tlsrpt.endpoint", DNSNames: []string{host}, Key: certs.ECDSAP256, Issuer: certs.IssuerCA}
}
