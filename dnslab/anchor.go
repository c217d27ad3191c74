package dnslab

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// AnchorFormat is a syntax a validator reads its trust anchors in.
type AnchorFormat string

// Anchor formats.
const (
	// AnchorZone is the DS and the DNSKEY in zone-file syntax, one per
	// line: unbound's trust-anchor-file and auto-trust-anchor-file, BIND's
	// dnssec-* tools, ldns.
	AnchorZone AnchorFormat = "zone"
	// AnchorUnbound is unbound.conf's trust-anchor lines, for its server
	// clause (unbound.conf(5): trust-anchor: "<RR>").
	AnchorUnbound AnchorFormat = "unbound"
	// AnchorDelv is a trust-anchors statement with the KSK as a
	// static-key, what delv -a reads (delv(1); named.conf(5):
	// trust-anchors).
	AnchorDelv AnchorFormat = "delv"
)

// AnchorFormats lists the formats, the default first.
var AnchorFormats = []AnchorFormat{AnchorZone, AnchorUnbound, AnchorDelv}

// FormatTrustAnchor writes the trust anchor (the KSK's DS and DNSKEY, as
// [Keys.TrustAnchor] returns them) in format f.
func FormatTrustAnchor(ds *dns.DS, key *dns.DNSKEY, f AnchorFormat) (string, error) {
	if ds == nil || key == nil {
		return "", fmt.Errorf("dnslab: trust anchor: no DS or DNSKEY: %w", ErrBadKey)
	}
	line := func(rr dns.RR) string { return strings.ReplaceAll(rr.String(), "\t", " ") }
	var b strings.Builder
	switch f {
	case AnchorZone:
		fmt.Fprintf(&b, "; the trust anchor of %s: the key-signing key %d and its DS (RFC 4034 §5)\n", key.Hdr.Name, key.KeyTag())
		b.WriteString(line(ds) + "\n")
		b.WriteString(line(key) + "\n")
	case AnchorUnbound:
		fmt.Fprintf(&b, "# the trust anchor of %s, for unbound.conf's server: clause\n", key.Hdr.Name)
		fmt.Fprintf(&b, "trust-anchor: %q\n", line(ds))
		fmt.Fprintf(&b, "trust-anchor: %q\n", line(key))
	case AnchorDelv:
		// A static key is trusted as it is, with no RFC 5011
		// rollover: the lab's key changes only with its state
		// directory.
		fmt.Fprintf(&b, "trust-anchors {\n\t%q static-key %d %d %d %q;\n};\n",
			key.Hdr.Name, key.Flags, key.Protocol, key.Algorithm, key.PublicKey)
	default:
		return "", fmt.Errorf("dnslab: trust anchor format %q: want zone, unbound or delv", f)
	}
	return b.String(), nil
}
