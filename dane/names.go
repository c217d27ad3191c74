package dane

import (
	"crypto/x509"
	"slices"
	"strings"
)

// Name checks for DANE-TA(2) (RFC 7672 §3.2). DANE-EE(3) has none: the
// record alone binds the key to the server (RFC 7672 §3.1.1).
//
// The reference identifiers are the names the client may accept: the TLSA
// base domain (the MX host name) and, when it differs, the next-hop domain
// of the recipient (RFC 7672 §3.2.2). The caller gives them to Verify in
// that order; the first one the leaf matches is reported.

// matchNames returns the first reference identifier in names that one of
// cert's presented identifiers matches.
func matchNames(cert *x509.Certificate, names []string) (string, bool) {
	presented := presentedIDs(cert)
	for _, n := range names {
		ref := canonical(n)
		if ref == "" {
			continue
		}
		for _, p := range presented {
			if matchName(p, ref) {
				return n, true
			}
		}
	}
	return "", false
}

// presentedIDs returns the DNS names cert presents: its subjectAltName
// dNSNames, or, only when it has none, its subject common name
// (RFC 6125 §6.4.4; OpenSSL's host check, which Postfix uses, does the
// same).
func presentedIDs(cert *x509.Certificate) []string {
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames
	}
	if cert.Subject.CommonName != "" {
		return []string{cert.Subject.CommonName}
	}
	return nil
}

// canonical lowercases an ASCII DNS name and drops one trailing dot, the
// form names are compared in (RFC 6125 §6.4.1: case-insensitive, A-labels
// compared as they are).
func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// matchName reports whether the presented identifier pattern matches the
// reference identifier ref (already canonical), following RFC 6125
// §6.4.3 as OpenSSL applies it:
//   - the wildcard "*" is only the whole left-most label, never a part of
//     a label ("f*.example.test" matches nothing), and only one;
//   - it stands for exactly one non-empty label: "*.example.test"
//     matches "mx.example.test", not "a.b.example.test" and not
//     "example.test";
//   - at least two labels follow it: "*.test" matches nothing.
func matchName(pattern, ref string) bool {
	pattern = canonical(pattern)
	if pattern == "" || ref == "" {
		return false
	}
	rest, wild := strings.CutPrefix(pattern, "*.")
	if !wild {
		return !strings.Contains(pattern, "*") && pattern == ref
	}
	if strings.Contains(rest, "*") || strings.Count(rest, ".") < 1 || hasEmptyLabel(rest) {
		return false
	}
	label, refRest, ok := strings.Cut(ref, ".")
	return ok && label != "" && refRest == rest
}

// hasEmptyLabel reports whether name has an empty label ("a..b", ".a").
func hasEmptyLabel(name string) bool {
	return slices.Contains(strings.Split(name, "."), "")
}
