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
