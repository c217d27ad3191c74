package certs

import (
	"crypto/x509"
	"fmt"
	"slices"
)

// Issuer names who signs a leaf.
type Issuer string

// Issuers.
const (
	// IssuerCA is the lab CA signing the leaf directly (the default).
	IssuerCA Issuer = "lab-ca"
	// IssuerIntermediate is the lab intermediate CA, which the lab CA
	// signed: a client that trusts the lab CA needs the intermediate too,
	// which the server sends unless Chain says otherwise.
	IssuerIntermediate Issuer = "lab-intermediate"
	// IssuerUntrusted is a second root CA, kept in the store's
	// untrusted-ca directory, that no client is told to trust. It signs
	// the leaf directly: the chain is whole but ends at an unknown anchor
	// (OpenSSL: "error 20 at 0 depth lookup: unable to get local issuer
	// certificate").
	IssuerUntrusted Issuer = "untrusted-ca"
	// IssuerSelf is the leaf signing itself, as LeafSpec.SelfSigned.
	IssuerSelf Issuer = "self"
)

var issuers = []Issuer{IssuerCA, IssuerIntermediate, IssuerUntrusted, IssuerSelf}

// Chain says which certificates a server sends after the leaf.
type Chain string

// Chains.
const (
	// ChainFull is the leaf and every intermediate, never the root: what
	// a well-configured MTA sends (RFC 8446 §4.4.2 lets the root be left
	// out, and clients must have it anyway). The default.
	ChainFull Chain = "full"
	// ChainLeafOnly is the leaf alone although an intermediate issued it:
	// the classic missing-intermediate misconfiguration. Clients refuse
	// it (OpenSSL's error 20): the leaf names no caIssuers URL (RFC 5280
	// §4.2.2.1), and the TLS libraries of MTAs fetch none anyway.
	ChainLeafOnly Chain = "leaf-only"
	// ChainWrongIntermediate is the leaf and an intermediate of the lab
	// CA that did not issue it (another name and key, CN "mxlab test
	// intermediate (other)"): a chain file left over from another
	// certificate.
	ChainWrongIntermediate Chain = "wrong-intermediate"
)

var chains = []Chain{ChainFull, ChainLeafOnly, ChainWrongIntermediate}

// signing normalizes the spec's issuer and chain: defaults, SelfSigned,
// and the combinations that make no sense. Leaving out or replacing an
// intermediate needs a leaf that an intermediate issued; for any other
// issuer the knob would change nothing, so it is an error rather than a
// scenario that silently tests the baseline.
func (spec LeafSpec) signing() (Issuer, Chain, error) {
	iss, ch := spec.Issuer, spec.Chain
	if spec.SelfSigned {
		if iss != "" && iss != IssuerSelf {
			return "", "", fmt.Errorf("certs: leaf %s: SelfSigned contradicts issuer %q", spec.Name, iss)
		}
		iss = IssuerSelf
	}
	if iss == "" {
		iss = IssuerCA
	}
	if ch == "" {
		ch = ChainFull
	}
	if !slices.Contains(issuers, iss) {
		return "", "", fmt.Errorf("certs: leaf %s: unknown issuer %q (want %s, %s, %s or %s)", spec.Name, iss, IssuerCA, IssuerIntermediate, IssuerUntrusted, IssuerSelf)
	}
	if !slices.Contains(chains, ch) {
		return "", "", fmt.Errorf("certs: leaf %s: unknown chain %q (want %s, %s or %s)", spec.Name, ch, ChainFull, ChainLeafOnly, ChainWrongIntermediate)
	}
	if ch != ChainFull && iss != IssuerIntermediate {
		return "", "", fmt.Errorf("certs: leaf %s: chain %q needs issuer %q: a leaf issued by %q has no intermediate to leave out or replace", spec.Name, ch, IssuerIntermediate, iss)
	}
	return iss, ch, nil
}

// signer returns the authority that signs a leaf of this issuer (nil for
// IssuerSelf) and the certificates served after it.
func (s *Store) signer(iss Issuer, ch Chain) (*authority, []*x509.Certificate) {
	switch iss {
	case IssuerIntermediate:
		switch ch {
		case ChainLeafOnly:
			return s.intermediate, nil
		case ChainWrongIntermediate:
			return s.intermediate, []*x509.Certificate{s.otherIntermediate.cert}
		}
		return s.intermediate, []*x509.Certificate{s.intermediate.cert}
	case IssuerUntrusted:
		return s.untrusted, nil
	case IssuerSelf:
		return nil, nil
	}
	return s.ca, nil
}
