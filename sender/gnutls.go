package sender

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/mxlab/mxlab/tlsname"
)

// The texts of Exim's log that describe the TLS session (X=, CV=, DN=,
// and K for CHUNKING), derived from the session the sender negotiated:
// its version, group, cipher suite and the server's key stand in for
// what GnuTLS negotiated with the same server, given the profile's
// groups (profiles.TLSOffer.Groups).

// gnutlsSession is the session as Exim 4.96 logs it in X=: GnuTLS's
// gnutls_session_get_desc ("(TLS1.3)-(ECDHE-X25519)-(RSA-PSS-RSAE-SHA256)-(AES-128-GCM)",
// lib/state.c: the MAC only when the cipher is no AEAD, the signature
// only where the version negotiates one) turned into Exim's form by
// tls-gnu.c's peer_status ("a colon after the TLS version, replace the
// )-( grouping with __, replace in-group - with _ and append the
// :keysize"). Measured on the lab (TestFidelityExim):
// "TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_128_GCM:128" and
// "TLS1.1:ECDHE_SECP256R1__AES_128_CBC__SHA1:128". ok is false for a
// session GnuTLS names in a way this does not know.
//
// The group of a TLS 1.2 or older session is the client's first (groups,
// the profile's order): servers follow the client's order there (Go's
// and OpenSSL's without a server preference), and Go's client sends its
// own order, not the profile's. Measured: GnuTLS got SECP256R1 from the
// lab's tls10-only where Go's client got X25519; in TLS 1.3 both got
// X25519, the server's choice among the key shares.
func gnutlsSession(st tls.ConnectionState, groups []string) (string, bool) {
	version, ok := gnutlsVersions[st.Version]
	if !ok {
		return "", false
	}
	suite, ok := gnutlsSuites[st.CipherSuite]
	if !ok {
		return "", false
	}
	curve := st.CurveID
	if id, ok := tlsname.GroupID(firstOf(groups)); ok && st.Version < tls.VersionTLS13 {
		curve = tls.CurveID(id)
	}
	var parts []string
	if suite.ecdhe || st.Version == tls.VersionTLS13 {
		group, ok := gnutlsGroups[curve]
		if !ok {
			return "", false
		}
		parts = append(parts, "ECDHE-"+group)
	} else {
		parts = append(parts, "RSA")
	}
	// GnuTLS names the signature with ECDHE and in TLS 1.3; "(RSA)" key
	// exchange has none.
	if (suite.ecdhe && st.Version >= tls.VersionTLS12 || st.Version == tls.VersionTLS13) && len(st.PeerCertificates) > 0 {
		sign, ok := gnutlsSignature(st.PeerCertificates[0].PublicKey, st.Version)
		if !ok {
			return "", false
		}
		parts = append(parts, sign)
	}
	parts = append(parts, suite.cipher)
	if suite.mac != "" {
		parts = append(parts, suite.mac)
	}
	for i, g := range parts {
		parts[i] = strings.ReplaceAll(g, "-", "_")
	}
	return version + ":" + strings.Join(parts, "__") + ":" + strconv.Itoa(suite.bits), true
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// gnutlsVersions are gnutls_protocol_get_name's names.
var gnutlsVersions = map[uint16]string{
	tls.VersionTLS10: "TLS1.0", tls.VersionTLS11: "TLS1.1", tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3",
}

// gnutlsGroups are the groups GnuTLS 3.7 names (gnutls_group_get_name);
// it has no post-quantum hybrid.
var gnutlsGroups = map[tls.CurveID]string{
	tls.X25519: "X25519", tls.CurveP256: "SECP256R1", tls.CurveP384: "SECP384R1", tls.CurveP521: "SECP521R1",
}

// gnutlsSuite is a suite in GnuTLS's words: gnutls_cipher_get_name, the
// key size in bits, gnutls_mac_get_name for a suite that is no AEAD.
type gnutlsSuite struct {
	cipher string
	bits   int
	mac    string
	ecdhe  bool
}

var gnutlsSuites = map[uint16]gnutlsSuite{
	tls.TLS_AES_128_GCM_SHA256:                        {"AES-128-GCM", 128, "", false},
	tls.TLS_AES_256_GCM_SHA384:                        {"AES-256-GCM", 256, "", false},
	tls.TLS_CHACHA20_POLY1305_SHA256:                  {"CHACHA20-POLY1305", 256, "", false},
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         {"AES-128-GCM", 128, "", true},
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       {"AES-128-GCM", 128, "", true},
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         {"AES-256-GCM", 256, "", true},
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       {"AES-256-GCM", 256, "", true},
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   {"CHACHA20-POLY1305", 256, "", true},
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: {"CHACHA20-POLY1305", 256, "", true},
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            {"AES-128-CBC", 128, "SHA1", true},
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          {"AES-128-CBC", 128, "SHA1", true},
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            {"AES-256-CBC", 256, "SHA1", true},
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          {"AES-256-CBC", 256, "SHA1", true},
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:         {"AES-128-CBC", 128, "SHA256", true},
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256:       {"AES-128-CBC", 128, "SHA256", true},
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               {"AES-128-GCM", 128, "", false},
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384:               {"AES-256-GCM", 256, "", false},
	tls.TLS_RSA_WITH_AES_128_CBC_SHA:                  {"AES-128-CBC", 128, "SHA1", false},
	tls.TLS_RSA_WITH_AES_256_CBC_SHA:                  {"AES-256-CBC", 256, "SHA1", false},
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256:               {"AES-128-CBC", 128, "SHA256", false},
}

// gnutlsSignature is gnutls_sign_get_name of the signature a server with
// this key makes for a GnuTLS client: RSA-PSS with SHA-256 for an RSA
// key (what Go and OpenSSL servers pick when the client offers it, as
// GnuTLS does; measured on the lab in TLS 1.3), the curve's own hash for
// ECDSA in TLS 1.3, the generic ECDSA-SHA256 in TLS 1.2.
func gnutlsSignature(key any, version uint16) (string, bool) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "RSA-PSS-RSAE-SHA256", true
	case ed25519.PublicKey:
		return "EdDSA-Ed25519", true
	case *ecdsa.PublicKey:
		if version < tls.VersionTLS13 {
			return "ECDSA-SHA256", true
		}
		switch k.Curve {
		case elliptic.P256():
			return "ECDSA-SECP256R1-SHA256", true
		case elliptic.P384():
			return "ECDSA-SECP384R1-SHA384", true
		case elliptic.P521():
			return "ECDSA-SECP521R1-SHA512", true
		}
	}
	return "", false
}

// eximCV is Exim's CV= (tls_certificate_verified, spec "Log files"):
// dane when DANE verified the certificate, yes when PKIX did with the
// roots the sender trusts, else no.
func (a *attempt) eximCV() string {
	switch {
	case a.rep.DANE.Result == "verified":
		return "dane"
	case a.rep.TLS != nil && a.rep.TLS.PKIX == "trusted":
		return "yes"
	}
	return "no"
}

// eximK is Exim's " K" (log_selector smtp_chunking, on by default): the
// message went with BDAT because the server offered CHUNKING.
func (a *attempt) eximK() string {
	if a.chunking {
		return " K"
	}
	return ""
}

// peerDN is the server certificate's subject as GnuTLS prints it
// (RFC 4514 order, as Go's pkix.Name.String).
func (a *attempt) peerDN() string {
	if a.rep.TLS == nil || len(a.rep.TLS.PeerCertificates) == 0 {
		return ""
	}
	return a.rep.TLS.PeerCertificates[0].Subject
}

// opensslReason is OpenSSL 3's reason string (ERR_reason_error_string)
// for a handshake that failed without an alert, as sendmail logs it in
// "reason=" (measured, TestFidelitySendmail: "unexpected eof while
// reading" when the server closes after "220 Ready", "legacy sigalg
// disallowed or unsupported" for TLS 1.1 at security level 2). Other
// failures keep Go's words: no OpenSSL text was measured for them.
func opensslReason(err error) string {
	switch {
	case errors.Is(err, errRefusedVersion):
		return "legacy sigalg disallowed or unsupported"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected eof while reading"
	}
	return err.Error()
}
