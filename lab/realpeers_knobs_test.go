package lab_test

// What a scenario's knobs promise a real client, computed from the
// scenario's YAML (tls.*, smtp.*, faults) and never from its name, so that
// a scenario added to the catalogue is driven by every real-peer test with
// no Go change (issue 11). Each rule says where it was measured.

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// TLS versions as on the wire.
const (
	tls10 uint16 = 0x0301
	tls11 uint16 = 0x0302
	tls12 uint16 = 0x0303
	tls13 uint16 = 0x0304
)

var versionKnobs = map[scenarios.Version]uint16{"1.0": tls10, "1.1": tls11, "1.2": tls12, "1.3": tls13}

// versionWindow is the range of versions the scenario's server accepts:
// tls.min_version and tls.max_version, or crypto/tls's server defaults
// (TLS 1.2 to 1.3 since Go 1.22) where they are empty.
func versionWindow(sc *scenarios.Scenario) (lo, hi uint16) {
	lo, hi = tls12, tls13
	if v, ok := versionKnobs[sc.TLS.MinVersion]; ok {
		lo = v
	}
	if v, ok := versionKnobs[sc.TLS.MaxVersion]; ok {
		hi = v
	}
	return lo, hi
}

// clientTLS is what a real client offers and accepts.
type clientTLS struct {
	// versions offered, highest first.
	versions []uint16
	// supportedVersions: the ClientHello carries supported_versions (a
	// TLS 1.3 client, RFC 8446 §4.2.1); without it the server reads
	// legacy_version, the highest version, and answers with the highest
	// it has at or below it (RFC 5246 §7.4.1.2, Appendix E.1).
	supportedVersions bool
	// legacySigalgs: the client accepts the MD5/SHA-1 signature of a
	// TLS 1.0 or 1.1 ServerKeyExchange. OpenSSL 3 refuses it at security
	// level 1 and above, Debian's default being 2 ("legacy sigalg
	// disallowed or unsupported", measured); GnuTLS's NORMAL priority and
	// OpenSSL at SECLEVEL=0 accept it.
	legacySigalgs bool
	// sni is the server name sent, "" for none.
	sni string
}

// The clients of these tests, as Debian 12 ships them. The default
// OpenSSL ClientHello offers 1.3 down to 1.0 in supported_versions
// (docs/real-peers.md §6).
func opensslClient(mode, sni string) clientTLS {
	switch mode {
	case "tls1_2":
		return clientTLS{versions: []uint16{tls12}, sni: sni}
	case "tls1_3":
		return clientTLS{versions: []uint16{tls13}, supportedVersions: true, sni: sni}
	case "tls1": // -tls1 -cipher DEFAULT@SECLEVEL=0
		return clientTLS{versions: []uint16{tls10}, legacySigalgs: true, sni: sni}
	}
	return clientTLS{versions: []uint16{tls13, tls12, tls11, tls10}, supportedVersions: true, sni: sni}
}

// gnutlsClient is gnutls-cli with its default priority (NORMAL).
func gnutlsClient(sni string) clientTLS {
	return clientTLS{versions: []uint16{tls13, tls12, tls11, tls10}, supportedVersions: true, legacySigalgs: true, sni: sni}
}

// handshake is how a TLS handshake between a client and the scenario's
// server ends.
type handshake struct {
	// serverAlert is the alert the server answers the ClientHello with
	// (0 with sent false), in a record of version alertVersion.
	serverAlert  tlsalert.Description
	alertVersion uint16
	sent         bool
	// serverHello is the version of the ServerHello, when one is sent.
	serverHello uint16
	// clientAlert is the alert the client sends on reading the
	// ServerHello or ServerKeyExchange (received true), with OpenSSL's
	// reason for it.
	clientAlert tlsalert.Description
	received    bool
	reason      string
	// version is the version of a completed handshake, 0 for none.
	version uint16
}

// negotiate plays the scenario's TLS knobs against a client: first the
// tls.reject rules and clienthello faults (checked before anything else,
// server/rules.go), then the version window, then the client's own floor.
func negotiate(t *testing.T, sc *scenarios.Scenario, c clientTLS) handshake {
	t.Helper()
	offered := func(v uint16) bool { return slices.Contains(c.versions, v) }
	for _, r := range rejectRules(t, sc) {
		if !conditionHolds(r.When, c) {
			continue
		}
		d, err := tlsalert.ParseDescription(r.Alert)
		if err != nil {
			t.Fatal(err)
		}
		// The record version of an alert to a ClientHello: the highest
		// version offered, TLS 1.3 written 03 03 (server/clienthello.go
		// AlertVersion, measured on gnutls-serv and openssl s_server).
		return handshake{serverAlert: d, sent: true, alertVersion: min(c.versions[0], tls12)}
	}
	lo, hi := versionWindow(sc)
	if c.supportedVersions {
		for _, v := range c.versions {
			if v >= lo && v <= hi {
				return c.settle(v)
			}
		}
		// No version in common: protocol_version, in a record of the
		// version the client asked for at most (openssl s_server -min_protocol
		// TLSv1 -max_protocol TLSv1.1 answers s_client -tls1_3 with
		// 15 03 03 00 02 02 46, measured in TestRealPeersReferenceVersions).
		return handshake{serverAlert: tlsalert.ProtocolVersion, sent: true, alertVersion: min(c.versions[0], tls12)}
	}
	v := min(c.versions[0], hi)
	if v < lo {
		return handshake{serverAlert: tlsalert.ProtocolVersion, sent: true, alertVersion: min(c.versions[0], tls12)}
	}
	if !offered(v) {
		// The server answered with a lower version than the client's only
		// one: OpenSSL's ssl_choose_client_version refuses it (measured:
		// s_client -tls1_2 against TLS 1.0-1.1 servers).
		return handshake{serverHello: v, clientAlert: tlsalert.ProtocolVersion, received: true, reason: "unsupported protocol"}
	}
	return c.settle(v)
}

// settle is a handshake at version v that the server accepts: below TLS
// 1.2 a client without legacySigalgs gives up at the ServerKeyExchange.
func (c clientTLS) settle(v uint16) handshake {
	if v < tls12 && !c.legacySigalgs {
		return handshake{serverHello: v, clientAlert: tlsalert.InternalError, received: true, reason: "legacy sigalg disallowed or unsupported"}
	}
	return handshake{serverHello: v, version: v}
}

// rejectRules are the scenario's tls.reject rules followed by its
// clienthello faults that send an alert, in the order the server checks
// them (server/faults.go compileFaults).
func rejectRules(t *testing.T, sc *scenarios.Scenario) []scenarios.RejectRule {
	t.Helper()
	rules := slices.Clone(sc.TLS.Reject)
	for _, f := range sc.Faults {
		if f.At != scenarios.AtClientHello {
			continue
		}
		if f.Do != scenarios.DoAlert {
			t.Fatalf("%s: a clienthello fault that does %s has no real-peer expectation yet: add one in lab/realpeers_knobs_test.go", sc.Name, f.Do)
		}
		when := f.When
		if when == "" {
			when = scenarios.Always
		}
		rules = append(rules, scenarios.RejectRule{When: when, Alert: f.Alert, Log: f.Log})
	}
	return rules
}

// conditionHolds says whether a real client's ClientHello meets a
// ClientHello condition (scenarios.Condition; server/rules.go).
func conditionHolds(w scenarios.Condition, c clientTLS) bool {
	switch w {
	case scenarios.Always:
		return true
	case scenarios.TLS13Only:
		return c.supportedVersions && slices.Equal(c.versions, []uint16{tls13})
	case scenarios.GnuTLSDisallowedSNI: // lib/str.h _gnutls_dnsname_is_valid
		return strings.IndexFunc(c.sni, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.')
		}) >= 0
	}
	// malformed-sni and not-tls: no real client here sends either.
	return false
}

// faultAt is the scenario's fault at a point of the session, nil for none.
func faultAt(sc *scenarios.Scenario, p scenarios.Point) *scenarios.Fault {
	for i := range sc.Faults {
		if sc.Faults[i].At == p {
			return &sc.Faults[i]
		}
	}
	return nil
}

// dialogueFaults are the points whose faults the real-peer tests know how
// real clients meet; a scenario with a fault elsewhere stops the test with
// a request for an expectation rather than being checked as healthy.
func checkModelled(t *testing.T, sc *scenarios.Scenario) {
	t.Helper()
	for _, f := range sc.Faults {
		ok := false
		switch f.At {
		case scenarios.AtConnect:
			ok = f.Do == scenarios.DoClose || f.Do == scenarios.DoReset
		case scenarios.AtSTARTTLS:
			ok = f.Do == scenarios.DoReply
		case scenarios.AtTLSReady:
			ok = f.Do == scenarios.DoClose || f.Do == scenarios.DoReset || f.Do == scenarios.DoAlert
		case scenarios.AtClientHello:
			ok = f.Do == scenarios.DoAlert
		}
		if !ok {
			t.Fatalf("%s: fault %s at %s has no real-peer expectation yet: add one in lab/realpeers_knobs_test.go", sc.Name, f.Do, f.At)
		}
	}
}

// greets says whether the server sends its banner (no fault on connect).
func greets(sc *scenarios.Scenario) bool { return faultAt(sc, scenarios.AtConnect) == nil }

// startTLSRefusal is the reply that replaces "220 Ready to start TLS"
// (faults at starttls), "" for none.
func startTLSRefusal(sc *scenarios.Scenario) string {
	if f := faultAt(sc, scenarios.AtSTARTTLS); f != nil {
		return f.Reply
	}
	return ""
}

// readsClientHello says whether a client that sends STARTTLS gets its
// ClientHello read: STARTTLS offered and answered 220, no fault after it.
func readsClientHello(sc *scenarios.Scenario) bool {
	return greets(sc) && sc.SMTP.OffersSTARTTLS() && startTLSRefusal(sc) == "" && faultAt(sc, scenarios.AtTLSReady) == nil
}

// certWant is what a client sees of the certificate the scenario serves.
type certWant struct {
	// names are the certificate's DNS names; the first is its CN.
	names []string
	// issuer is the issuer's name (the subject for a self-signed one).
	issuer pkix.Name
	// depth is how many certificates the server sends.
	depth int
	// trusted: the chain reaches the lab CA (which the clients trust).
	trusted bool
	// notYetValid and expired place now outside the validity window.
	notYetValid, expired bool
}

// certificate reads the tls.* knobs (certificate, names, issuer, chain,
// not_before, not_after); the issuers' names are the lab PKI's.
func certificate(t *testing.T, l *lab.Lab, s *lab.Site) certWant {
	t.Helper()
	sc := s.Scenario()
	r := strings.NewReplacer("{mx}", s.MX, "{host}", s.Host, "{domain}", s.Domain)
	var w certWant
	for _, n := range sc.TLS.Names {
		w.names = append(w.names, r.Replace(n))
	}
	w.depth = 1
	switch {
	case sc.TLS.Certificate == scenarios.CertSelfSigned:
		w.issuer = pkix.Name{CommonName: w.names[0]}
	case sc.TLS.Issuer == scenarios.IssuerLabIntermediate:
		w.issuer = l.CA().Intermediate().Subject
		// The intermediate is sent unless the chain is leaf-only; a
		// wrong intermediate does not link the leaf to the CA.
		w.trusted = sc.TLS.Chain == scenarios.ChainFull
		if sc.TLS.Chain != scenarios.ChainLeafOnly {
			w.depth = 2
		}
	case sc.TLS.Issuer == scenarios.IssuerUntrustedCA:
		w.issuer = l.CA().UntrustedCA().Subject
	default:
		w.issuer = l.CA().CA().Subject
		w.trusted = true
	}
	nb, err := sc.TLS.NotBefore.Duration("tls.not_before")
	if err != nil {
		t.Fatal(err)
	}
	na, err := sc.TLS.NotAfter.Duration("tls.not_after")
	if err != nil {
		t.Fatal(err)
	}
	// Offsets from the lab's start, which is now to within the test's
	// length: the knobs are days, never minutes (scenarios.RelTime).
	w.notYetValid = sc.TLS.NotBefore != "" && nb > 0
	w.expired = sc.TLS.NotAfter != "" && na <= 0
	return w
}

// covers says whether the certificate's names cover host (RFC 6125 §6.4,
// a wildcard for one left-most label).
func (w certWant) covers(host string) bool {
	host = strings.ToLower(host)
	for _, n := range w.names {
		n = strings.ToLower(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

// opensslVerify is what OpenSSL's verifier reports for the certificate
// with -verify_hostname host and a callback that goes on after errors
// (s_client without -verify_return_error): each error in the order
// X509_verify_cert meets them (the chain, then the name, then the dates
// at each depth; measured on Debian 12's OpenSSL 3.0), and the last as
// the verify return code.
func (w certWant) opensslVerify(host string) []string {
	var errs []string
	switch {
	case w.trusted:
	case w.issuer.CommonName == w.names[0] && w.depth == 1 && len(w.issuer.Organization) == 0:
		errs = append(errs, "18:self-signed certificate")
	default:
		errs = append(errs, "20:unable to get local issuer certificate", "21:unable to verify the first certificate")
	}
	if !w.covers(host) {
		errs = append(errs, "62:hostname mismatch")
	}
	if w.notYetValid {
		errs = append(errs, "9:certificate is not yet valid")
	}
	if w.expired {
		errs = append(errs, "10:certificate has expired")
	}
	return errs
}

// opensslDN prints a lab name as OpenSSL's one-line form does
// ("O = mxlab, CN = mxlab test CA"); slash is its /O=…/CN=… form.
func opensslDN(n pkix.Name, slash bool) string {
	var parts []string
	for _, o := range n.Organization {
		parts = append(parts, "O", o)
	}
	parts = append(parts, "CN", n.CommonName)
	var b strings.Builder
	for i := 0; i < len(parts); i += 2 {
		switch {
		case slash:
			fmt.Fprintf(&b, "/%s=%s", parts[i], parts[i+1])
		case i > 0:
			fmt.Fprintf(&b, ", %s = %s", parts[i], parts[i+1])
		default:
			fmt.Fprintf(&b, "%s = %s", parts[i], parts[i+1])
		}
	}
	return b.String()
}

// opensslAlert is how OpenSSL names a received alert: alerts SSL 3.0
// defined are "sslv3 alert …", the later ones "tlsv1 alert …"
// (ssl/ssl_err.c).
func opensslAlert(d tlsalert.Description) string {
	if d <= tlsalert.IllegalParameter && d != tlsalert.RecordOverflow {
		return "sslv3 alert " + d.Words()
	}
	return "tlsv1 alert " + d.Words()
}

// gnutlsAlertNames are GnuTLS's names of alerts (lib/alert.c).
var gnutlsAlertNames = map[tlsalert.Description]string{
	tlsalert.UnexpectedMessage: "Unexpected message",
	tlsalert.HandshakeFailure:  "Handshake failed",
	tlsalert.IllegalParameter:  "Illegal parameter",
	tlsalert.DecodeError:       "Decode error",
	tlsalert.ProtocolVersion:   "Error in protocol version",
	tlsalert.InternalError:     "Internal error",
}

// opensslVersion is how s_client names a version in "Protocol  :".
func opensslVersion(v uint16) string {
	if v == tls10 {
		return "TLSv1"
	}
	return fmt.Sprintf("TLSv1.%d", v-tls10)
}

// recordVersion is how the session record names a version.
func recordVersion(v uint16) string { return fmt.Sprintf("TLS 1.%d", v-tls10) }

// recordHex is an alert record as the tests print bytes.
func recordHex(d tlsalert.Description, version uint16) string {
	return hexBytes(tlsalert.Alert{Level: tlsalert.Fatal, Description: d}.Record(version))
}

// leafOf is the certificate a site serves first (nil for none).
func leafOf(t *testing.T, s *lab.Site) *x509.Certificate {
	t.Helper()
	if s.CertPath == "" {
		return nil
	}
	served, err := certs.ReadCerts(s.CertPath)
	if err != nil || len(served) == 0 {
		t.Fatalf("%s: %v", s.CertPath, err)
	}
	return served[0]
}

// agrees is a sanity check of the knobs' reading against the served
// certificate: the dates the lab put in it agree with expired/notYetValid.
func (w certWant) agrees(c *x509.Certificate) bool {
	now := time.Now()
	return w.expired == now.After(c.NotAfter) && w.notYetValid == now.Before(c.NotBefore)
}
