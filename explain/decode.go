package explain

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/mxlab/mxlab/tlsalert"
)

// direction says who sent an alert, seen from the program that wrote the
// text: OpenSSL's "sslv3 alert ..." and "SSL alert number N" are always
// alerts read from the peer (ssl3_read_bytes), while a server's "no shared
// cipher" or GnuTLS's "A disallowed SNI server name has been received" are
// failures it answered with an alert of its own.
type direction int

const (
	dirUnknown  direction = iota
	dirReceived           // the writer of the text received the alert from its peer
	dirSent               // the writer of the text sent the alert to its peer
)

// Library reasons that are not alerts but say what went wrong.
const (
	reasonNoSharedCipher   = "no-shared-cipher"
	reasonUnsupportedProto = "unsupported-protocol"
	reasonWrongVersion     = "wrong-version-number" // the peer did not speak TLS
	reasonVerifyFailed     = "certificate-verify-failed"
	reasonBadSignature     = "bad-signature"
	reasonUnexpectedEOF    = "unexpected-eof"   // the peer closed or reset the connection mid-handshake, without an alert
	reasonDHKeyTooSmall    = "dh-key-too-small" // the sender refused the server's DH parameters
	reasonTimeout          = "timeout"          // the handshake did not finish in time
	reasonNoProtocols      = "no-protocols"     // the writer's own library has no TLS version it may use
)

// Certificate verification details, from OpenSSL's X509_verify_cert_error_string,
// Go's x509 errors, GnuTLS's verification status and rustls's
// CertificateError names. Which chain mistake a detail leaves open is in
// candidates.yaml (certificate-not-trusted/<detail>).
const (
	verifyExpired    = "expired"
	verifySelfSigned = "self-signed" // the server's own certificate signs itself (OpenSSL num=18)
	// verifyChainRoot: the chain the server sent ends at a self-signed
	// root the sender does not trust (OpenSSL num=19): a private CA's
	// root, or a public one missing from the sender's CA list.
	verifyChainRoot = "self-signed-in-chain"
	// verifyIssuerUnknown: the sender found no issuer for a certificate
	// of the chain (OpenSSL num=20 and 21, GnuTLS "issuer is unknown",
	// Go "unknown authority"): a missing intermediate, a private CA, or
	// the sender's own CA list.
	verifyIssuerUnknown = "issuer-unknown"
	// verifyUnknownAuthority: as verifyIssuerUnknown, from a library that
	// says the same for a self-signed certificate (Go's
	// x509.UnknownAuthorityError, GnuTLS's GNUTLS_CERT_SIGNER_NOT_FOUND,
	// rustls's UnknownIssuer).
	verifyUnknownAuthority = "unknown-authority"
	verifyHostname         = "hostname"
)

// finding is what the TLS library text inside a message says.
type finding struct {
	alert    tlsalert.Description
	hasAlert bool
	dir      direction
	library  string // openssl-3, openssl-1.1, openssl-1.0, boringssl, gnutls, go, rustls, java, erlang
	reason   string // one of the reason* constants, when no alert says more
	verify   string // one of the verify* constants
}

// packedCode matches an OpenSSL or BoringSSL error line:
// error:CODE:LIBRARY:FUNCTION:REASON, where FUNCTION is empty in OpenSSL 3
// ("error:0A000417:SSL routines::sslv3 alert illegal parameter") and
// "OPENSSL_internal" in BoringSSL.
var packedCode = regexp.MustCompile(`(?i)error:([0-9a-f]{8}):([^:\n]*):([^:\n]*):([^:\n]*)`)

// goErrors are Go's crypto/tls and crypto/x509 error prefixes for what
// is no alert: "tls: server selected unsupported protocol version 301"
// (its client handshake), "x509: certificate is valid for ..., not ..."
// (x509/verify.go).
var goErrors = re(`\btls: server selected unsupported protocol version|\bx509: (?:certificate|cannot validate)`)

// decodeLibrary reads the TLS library's part of a text.
func decodeLibrary(text string) finding {
	var f finding
	decodePacked(text, &f)
	if !f.hasAlert {
		decodeAlertWords(text, &f)
	}
	if !f.hasAlert {
		decodeServerErrors(text, &f)
	}
	if f.reason == "" {
		f.reason = reasonFromWords(text)
	}
	// A server that found no shared cipher or no common version answers
	// with alert 40 or 70 (OpenSSL ssl/statem/statem_srvr.c:
	// SSL_R_NO_SHARED_CIPHER with SSL_AD_HANDSHAKE_FAILURE; measured with
	// openssl s_server -nocert, docs/real-peers.md §2).
	if !f.hasAlert {
		switch f.reason {
		case reasonNoSharedCipher:
			f.setAlert(tlsalert.HandshakeFailure, dirSent)
		case reasonUnsupportedProto:
			f.setAlert(tlsalert.ProtocolVersion, dirSent)
		}
	}
	if f.library == "" && goErrors.MatchString(text) {
		f.library = "go"
	}
	f.verify = verifyDetail(text)
	if f.reason == "" && f.verify != "" {
		// A verification message names a failed verification even
		// without OpenSSL's "certificate verify failed" around it
		// (Node.js "CERT_HAS_EXPIRED", GnuTLS "The certificate issuer
		// is unknown").
		f.reason = reasonVerifyFailed
	}
	return f
}

func (f *finding) setAlert(d tlsalert.Description, dir direction) {
	f.alert, f.hasAlert, f.dir = d, true, dir
}

func (f *finding) setLibrary(lib string) {
	if f.library == "" {
		f.library = lib
	}
}

// OpenSSL SSL reason codes that are not alerts (include/openssl/sslerr.h,
// unchanged from 1.0 to 3.x).
var opensslReasons = map[uint32]string{
	134: reasonVerifyFailed,     // SSL_R_CERTIFICATE_VERIFY_FAILED
	191: reasonNoProtocols,      // SSL_R_NO_PROTOCOLS_AVAILABLE
	193: reasonNoSharedCipher,   // SSL_R_NO_SHARED_CIPHER
	252: reasonWrongVersion,     // SSL_R_UNKNOWN_PROTOCOL (1.0: SSL23_GET_SERVER_HELLO)
	258: reasonUnsupportedProto, // SSL_R_UNSUPPORTED_PROTOCOL
	267: reasonWrongVersion,     // SSL_R_WRONG_VERSION_NUMBER
	294: reasonUnexpectedEOF,    // SSL_R_UNEXPECTED_EOF_WHILE_READING (3.0)
	394: reasonDHKeyTooSmall,    // SSL_R_DH_KEY_TOO_SMALL
}

// decodePacked decodes OpenSSL and BoringSSL packed error codes.
//
// The packing differs by library (the library number of SSL is 20 in
// OpenSSL, 16 in BoringSSL):
//   - OpenSSL 1.x, crypto/err/err.c ERR_PACK: lib<<24 | func<<12 | reason,
//     so 0x14094412 is lib 20, ssl3_read_bytes, reason 0x412.
//   - OpenSSL 3, include/openssl/err.h ERR_PACK: lib<<23 | reason (23 bits),
//     so 0x0A000417 is lib 20, reason 0x417.
//   - BoringSSL, include/openssl/err.h ERR_PACK: lib<<24 | reason (12 bits),
//     so Gmail's 0x10000417 is lib 16, reason 0x417.
//
// All three number an alert received from the peer SSL_AD_REASON_OFFSET
// (1000) plus the alert: 0x417 = 1047 is alert 47, 0x412 = 1042 alert 42.
func decodePacked(text string, f *finding) {
	for _, m := range packedCode.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseUint(m[1], 16, 32)
		if err != nil {
			continue
		}
		code := uint32(v)
		libName := strings.TrimSpace(m[2])
		fn := strings.TrimSpace(m[3])
		reasonText := strings.TrimSpace(m[4])
		var lib string
		var reason uint32
		switch {
		case strings.Contains(fn, "OPENSSL_internal"):
			if code>>24 != 16 {
				// BoringSSL's RSA, X509, ... routines: not a TLS reason,
				// but it names the library.
				f.setLibrary("boringssl")
				if r := reasonFromWords(reasonText); r != "" && f.reason == "" {
					f.reason = r
				}
				continue
			}
			lib, reason = "boringssl", code&0xfff
		case !strings.EqualFold(libName, "SSL routines"):
			continue
		case code>>24 == 20:
			lib, reason = openssl1Version(fn, text), code&0xfff
		case code>>23 == 20:
			lib, reason = "openssl-3", code&0x7fffff
		default:
			continue
		}
		f.setLibrary(lib)
		if reason >= 1000 && reason < 1256 {
			f.setAlert(tlsalert.Description(reason-1000), dirReceived)
			f.library = lib
			return
		}
		if r, ok := opensslReasons[reason]; ok && lib != "boringssl" && f.reason == "" {
			f.reason = r
		}
		if r := reasonFromWords(reasonText); r != "" && f.reason == "" {
			f.reason = r
		}
	}
}

// openssl1Version tells OpenSSL 1.0 from 1.1: 1.0 prints function names in
// capitals (SSL3_READ_BYTES, SSL23_GET_SERVER_HELLO) and names files such
// as s3_pkt.c; 1.1 prints ssl3_read_bytes and ../ssl/record/rec_layer_s3.c.
func openssl1Version(fn, text string) string {
	if fn != "" && fn == strings.ToUpper(fn) && strings.ContainsFunc(fn, unicode.IsLetter) {
		return "openssl-1.0"
	}
	for _, file := range []string{"s3_pkt.c", "s3_srvr.c", "s3_clnt.c", "s23_clnt.c", "s23_srvr.c", "s3_both.c"} {
		if strings.Contains(text, file) {
			return "openssl-1.0"
		}
	}
	return "openssl-1.1"
}

var (
	// OpenSSL appends "SSL alert number N" to an alert read from the peer
	// (ssl/record/rec_layer_s3.c: ERR_add_error_data "SSL alert number ").
	alertNumber = regexp.MustCompile(`(?i)SSL alert number (\d{1,3})\b`)
	// gnutls-cli prints "*** Received alert [47]: Illegal parameter"
	// (measured, gnutls-cli 3.7.9, docs/real-peers.md §1a and §3).
	gnutlsReceived = regexp.MustCompile(`(?i)Received alert \[(\d{1,3})\]`)
	// OpenSSL's reason strings: "sslv3 alert illegal parameter", "tlsv1
	// alert unknown ca", "tlsv1 unrecognized name" (ssl/ssl_err.c).
	opensslAlertWords = regexp.MustCompile(`(?i)\b(?:sslv3|tlsv1|tlsv13)(?: alert)? ((?:[a-z]+ ?){1,6})`)
	// BoringSSL's reason names: SSLV3_ALERT_ILLEGAL_PARAMETER,
	// TLSV1_ALERT_PROTOCOL_VERSION, TLSV1_UNRECOGNIZED_NAME (ssl/ssl_lib.cc).
	boringAlertWords = regexp.MustCompile(`\b(?:SSLV3|TLSV1|TLSV13)_(?:ALERT_)?([A-Z_]+)`)
	// Go's crypto/tls: "remote error: tls: illegal parameter" for an alert
	// received, "local error: tls: ..." for one sent (crypto/tls/alert.go).
	goRemote = regexp.MustCompile(`(?i)\b(remote|local) error: tls: ([a-z ]+)`)
	// Exim with GnuTLS: "A TLS fatal alert has been received: Illegal
	// parameter" (exim tls-gnu.c, string in the Debian exim4 4.96 binary).
	gnutlsFatal = regexp.MustCompile(`(?i)A TLS fatal alert has been received[.:]?\s*:?\s*([a-z][a-z ]*)`)
	// rustls (Stalwart): "received fatal alert: HandshakeFailure"; Java:
	// "Received fatal alert: handshake_failure".
	fatalAlertWord = regexp.MustCompile(`(?i)received fatal alert:\s*([a-z_]+)`)
	// rustls's error as lettre and other Rust clients print it,
	// "AlertReceived(HandshakeFailure)", and mesalink's
	// "TLSErrorAlertReceivedHandshakeFailure" (mesalink-linux/mesalink #48).
	rustlsAlertReceived = regexp.MustCompile(`AlertReceived\(?([A-Z][A-Za-z]+)\)?`)
	// Erlang/OTP ssl: "received SERVER ALERT: Fatal - Handshake Failure".
	erlangAlert = regexp.MustCompile(`(?i)received (?:SERVER|CLIENT) ALERT: Fatal - ([a-z ]+)`)
)

// decodeAlertWords finds an alert named or numbered in words.
func decodeAlertWords(text string, f *finding) {
	if m := alertNumber.FindStringSubmatch(text); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n < 256 {
			f.setAlert(tlsalert.Description(n), dirReceived)
			return
		}
	}
	if m := gnutlsReceived.FindStringSubmatch(text); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n < 256 {
			f.setLibrary("gnutls")
			f.setAlert(tlsalert.Description(n), dirReceived)
			return
		}
	}
	if m := boringAlertWords.FindStringSubmatch(text); m != nil {
		if d, ok := alertByWords(strings.Fields(strings.ReplaceAll(m[1], "_", " "))); ok {
			f.setLibrary("boringssl")
			f.setAlert(d, dirReceived)
			return
		}
	}
	for _, m := range opensslAlertWords.FindAllStringSubmatch(text, -1) {
		if d, ok := alertByWords(strings.Fields(m[1])); ok {
			f.setAlert(d, dirReceived)
			return
		}
	}
	if m := goRemote.FindStringSubmatch(text); m != nil {
		if d, ok := alertByWords(strings.Fields(m[2])); ok {
			f.setLibrary("go")
			dir := dirReceived
			if strings.EqualFold(m[1], "local") {
				dir = dirSent
			}
			f.setAlert(d, dir)
			return
		}
	}
	if m := gnutlsFatal.FindStringSubmatch(text); m != nil {
		if d, ok := alertByWords(strings.Fields(m[1])); ok {
			f.setLibrary("gnutls")
			f.setAlert(d, dirReceived)
			return
		}
	}
	if m := fatalAlertWord.FindStringSubmatch(text); m != nil {
		if d, ok := alertByWords(strings.Fields(splitCamel(m[1]))); ok {
			if strings.Contains(m[1], "_") {
				f.setLibrary("java")
			} else {
				f.setLibrary("rustls")
			}
			f.setAlert(d, dirReceived)
			return
		}
	}
	if m := rustlsAlertReceived.FindStringSubmatch(text); m != nil {
		if d, ok := alertByWords(strings.Fields(splitCamel(m[1]))); ok {
			f.setLibrary("rustls")
			f.setAlert(d, dirReceived)
			return
		}
	}
	if m := erlangAlert.FindStringSubmatch(text); m != nil {
		if d, ok := alertByWords(strings.Fields(m[1])); ok {
			f.setLibrary("erlang")
			f.setAlert(d, dirReceived)
		}
	}
}

// gnutlsServerErrors are GnuTLS error strings (lib/errors.c) a server logs
// when it rejects a ClientHello, with the alert gnutls_error_to_alert
// (lib/alert.c) sends for each (GnuTLS 3.7.9's source; docs/real-peers.md
// §1b). The first two are measured against gnutls-serv 3.7.9 on every run
// of lab.TestRealPeersSameBytes (docs/real-peers.md §1a).
var gnutlsServerErrors = []struct {
	text  string
	alert tlsalert.Description
}{
	{"A disallowed SNI server name has been received", tlsalert.IllegalParameter},
	{"Error decoding the received TLS packet", tlsalert.DecodeError},
	{"A TLS packet with unexpected length was received", tlsalert.DecodeError},
	{"An unexpected TLS packet was received", tlsalert.UnexpectedMessage},
	{"A packet with illegal or unsupported version was received", tlsalert.ProtocolVersion},
	{"Could not negotiate a supported cipher suite", tlsalert.HandshakeFailure},
}

func decodeServerErrors(text string, f *finding) {
	for _, e := range gnutlsServerErrors {
		if containsFold(text, e.text) {
			f.setLibrary("gnutls")
			f.setAlert(e.alert, dirSent)
			return
		}
	}
}

// reasonWords maps library reason texts, as OpenSSL prints them
// (lower case) and BoringSSL (upper case with underscores), to reasons.
var reasonWords = []struct{ words, reason string }{
	{"no shared cipher", reasonNoSharedCipher},
	// OpenSSL's SSL_R_UNSUPPORTED_PROTOCOL; Go's client says "tls: server
	// selected unsupported protocol version 301" (crypto/tls
	// its client handshake) and sends protocol_version, as OpenSSL does.
	{"unsupported protocol", reasonUnsupportedProto},
	// OpenSSL's SSL_R_NO_PROTOCOLS_AVAILABLE (ssl/statem/statem_lib.c
	// ssl_set_client_hello_version and tls_setup_handshake): the writer's
	// own version bounds and security level leave no version to offer.
	{"no protocols available", reasonNoProtocols},
	{"wrong version number", reasonWrongVersion},
	{"unknown protocol", reasonWrongVersion},
	{"certificate verify failed", reasonVerifyFailed},
	{"bad signature", reasonBadSignature},
	{"unexpected eof while reading", reasonUnexpectedEOF},
	// Python's ssl module names OpenSSL 3's reason this way.
	{"UNEXPECTED_EOF_WHILE_READING", reasonUnexpectedEOF},
	{"dh key too small", reasonDHKeyTooSmall},
	// Haraka's tls plugin: "[tls] timeout" (haraka/Haraka #921); Go's
	// net/http and net/smtp users: "TLS handshake timeout".
	{"[tls] timeout", reasonTimeout},
	{"tls handshake timeout", reasonTimeout},
	// Exim with GnuTLS: "TLS session: (certificate verification failed):
	// certificate invalid" (ix-ai/smtp #11).
	{"certificate verification failed", reasonVerifyFailed},
	// Java's CertPathValidator: "Certificates do not conform to algorithm
	// constraints" (a SHA-1 or MD5 signature, a small key;
	// MailCleaner/MailCleaner #515 quotes it without the space).
	{"not conform to algorithm constraints", reasonVerifyFailed},
}

// peerClosed are a TLS library's words for a peer that closed or reset
// the connection during the handshake without an alert, where the words
// alone would also fit a session that ended after the handshake:
//   - Postfix's TLS engine, when OpenSSL 1.x queued no error
//     (src/tls/tls_client.c tls_client_start, tls_server.c
//     tls_server_start): "SSL_connect error to %s: lost connection", or
//     with errno: "SSL_connect error to %s: Connection reset by peer";
//   - GnuTLS's GNUTLS_E_PREMATURE_TERMINATION, "The TLS connection was
//     non-properly terminated." (lib/errors.c), and GNUTLS_E_PULL_ERROR,
//     "Error in the pull function.", only inside gnutls_handshake: Exim
//     logs the same words after a delivery, from recv (Exim/exim #94).
var peerClosed = re(`SSL_(?:connect|accept) error (?:to|from) \S+: (?:lost connection|Connection reset by peer)|\(gnutls_handshake\): (?:The TLS connection was non-properly terminated|Error in the pull function)|gnutls_handshake\(\) failed: The TLS connection was non-properly terminated`)

func reasonFromWords(text string) string {
	t := strings.ReplaceAll(text, "_", " ")
	for _, r := range reasonWords {
		if containsFold(t, r.words) {
			return r.reason
		}
	}
	if peerClosed.MatchString(text) {
		return reasonUnexpectedEOF
	}
	return ""
}

// verifyDetails are certificate verification messages: OpenSSL's
// X509_verify_cert_error_string (crypto/x509/x509_txt.c; 1.x spells
// "self signed"), the X509_V_ERR names Node.js and Python print, Go's
// crypto/x509 errors, GnuTLS's gnutls_certificate_verification_status_print
// (lib/cert-session.c) and older gnutls-cli wordings, rustls's
// CertificateError names, and Postfix's "untrusted issuer" (its
// src/tls/tls_verify.c logs it for both num=19 and num=20, so it says no
// more than issuer-unknown). The first match wins: the chain-root
// wordings contain the self-signed ones.
var verifyDetails = []struct{ text, detail string }{
	{"certificate has expired", verifyExpired},
	{"certificate is expired", verifyExpired},
	{"uses expired certificate", verifyExpired},
	{"CERT_HAS_EXPIRED", verifyExpired},
	{"invalid peer certificate: Expired", verifyExpired},
	{"self-signed certificate in certificate chain", verifyChainRoot},
	{"self signed certificate in certificate chain", verifyChainRoot},
	{"SELF_SIGNED_CERT_IN_CHAIN", verifyChainRoot},
	{"self-signed certificate", verifySelfSigned},
	{"self signed certificate", verifySelfSigned},
	{"DEPTH_ZERO_SELF_SIGNED", verifySelfSigned},
	{"unable to get local issuer certificate", verifyIssuerUnknown},
	{"unable to get issuer certificate", verifyIssuerUnknown},
	{"unable to verify the first certificate", verifyIssuerUnknown},
	{"UNABLE_TO_VERIFY_LEAF_SIGNATURE", verifyIssuerUnknown},
	{"UNABLE_TO_GET_ISSUER_CERT_LOCALLY", verifyIssuerUnknown},
	{"untrusted issuer", verifyIssuerUnknown},
	{"signed by unknown authority", verifyUnknownAuthority},
	{"certificate issuer is unknown", verifyUnknownAuthority},
	{"UnknownIssuer", verifyUnknownAuthority},
	{"hostname mismatch", verifyHostname},
	{"certificate is valid for", verifyHostname},
	{"NotValidForName", verifyHostname},
	{"doesn't match the host", verifyHostname},
	{"does not match the host", verifyHostname},
	{"name in the certificate does not match", verifyHostname},
	{"owner does not match hostname", verifyHostname},
	{"ERR_TLS_CERT_ALTNAME_INVALID", verifyHostname},
}

func verifyDetail(text string) string {
	for _, v := range verifyDetails {
		if containsFold(text, v.text) {
			return v.detail
		}
	}
	return ""
}

// alertAliases are alert names that are not the registry's snake-case
// names: Go's (crypto/tls/alert.go), GnuTLS's (gnutls_alert_get_name,
// strings in libgnutls 3.7.9), OpenSSL's ("unknown ca", "user cancelled"),
// and registry entries package tlsalert does not name.
var alertAliases = map[string]tlsalert.Description{
	// Go
	"unknown certificate authority":   tlsalert.UnknownCA,
	"error decoding message":          tlsalert.DecodeError,
	"error decrypting message":        tlsalert.DecryptError,
	"protocol version not supported":  tlsalert.ProtocolVersion,
	"insufficient security level":     tlsalert.InsufficientSecurity,
	"revoked certificate":             tlsalert.CertificateRevoked,
	"expired certificate":             tlsalert.CertificateExpired,
	"unknown certificate":             tlsalert.CertificateUnknown,
	"unknown psk identity":            tlsalert.UnknownPSKIdentity,
	"encrypted client hello required": 121,
	// GnuTLS
	"handshake failed":                                      tlsalert.HandshakeFailure,
	"certificate is bad":                                    tlsalert.BadCertificate,
	"certificate is not supported":                          tlsalert.UnsupportedCertificate,
	"certificate was revoked":                               tlsalert.CertificateRevoked,
	"certificate is expired":                                tlsalert.CertificateExpired,
	"ca is unknown":                                         tlsalert.UnknownCA,
	"access was denied":                                     tlsalert.AccessDenied,
	"error in protocol version":                             tlsalert.ProtocolVersion,
	"decompression failed":                                  30,
	"an unsupported extension was sent":                     tlsalert.UnsupportedExtension,
	"the server name sent was not recognized":               tlsalert.UnrecognizedName,
	"an extension was expected but was not seen":            tlsalert.MissingExtension,
	"no supported application protocol could be negotiated": tlsalert.NoApplicationProtocol,
	"certificate is required":                               tlsalert.CertificateRequired,
	// OpenSSL
	"user cancelled": tlsalert.UserCanceled,
	// Registry entries without a name in package tlsalert.
	"decryption failed":          21,
	"decompression failure":      30,
	"no certificate":             41,
	"export restriction":         60,
	"no renegotiation":           100,
	"certificate unobtainable":   111,
	"bad certificate hash value": 114,
	"ech required":               121,
}

// alertByWords finds the alert named by the longest prefix of words:
// "handshake failure SSL alert number 40" names handshake_failure.
func alertByWords(words []string) (tlsalert.Description, bool) {
	if len(words) > 8 {
		words = words[:8]
	}
	for k := len(words); k > 0; k-- {
		if d, ok := alertByName(strings.Join(words[:k], " ")); ok {
			return d, true
		}
	}
	return 0, false
}

// alertByName maps one alert name in any library's spelling to its number.
func alertByName(name string) (tlsalert.Description, bool) {
	n := strings.ToLower(strings.Join(strings.Fields(strings.NewReplacer("_", " ", "-", " ").Replace(name)), " "))
	if n == "" {
		return 0, false
	}
	if d, ok := alertAliases[n]; ok {
		return d, true
	}
	if strings.ContainsFunc(n, unicode.IsDigit) {
		return 0, false // ParseDescription would take "47" as a number
	}
	d, err := tlsalert.ParseDescription(strings.ReplaceAll(n, " ", "_"))
	return d, err == nil
}

// splitCamel turns rustls's "HandshakeFailure" and "UnknownCA" into words.
func splitCamel(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
