package tlsalert

import (
	"errors"
	"strings"
)

// goText is crypto/tls's wording of the alerts it reports as
// "remote error: tls: <text>" (crypto/tls/alert.go, alertText).
var goText = map[string]Description{
	"close notify":                   CloseNotify,
	"unexpected message":             UnexpectedMessage,
	"bad record MAC":                 BadRecordMAC,
	"record overflow":                RecordOverflow,
	"handshake failure":              HandshakeFailure,
	"bad certificate":                BadCertificate,
	"unsupported certificate":        UnsupportedCertificate,
	"revoked certificate":            CertificateRevoked,
	"expired certificate":            CertificateExpired,
	"unknown certificate":            CertificateUnknown,
	"illegal parameter":              IllegalParameter,
	"unknown certificate authority":  UnknownCA,
	"access denied":                  AccessDenied,
	"error decoding message":         DecodeError,
	"error decrypting message":       DecryptError,
	"protocol version not supported": ProtocolVersion,
	"insufficient security level":    InsufficientSecurity,
	"internal error":                 InternalError,
	"inappropriate fallback":         InappropriateFallback,
	"user canceled":                  UserCanceled,
	"missing extension":              MissingExtension,
	"unsupported extension":          UnsupportedExtension,
	"unrecognized name":              UnrecognizedName,
	"unknown PSK identity":           UnknownPSKIdentity,
	"certificate required":           CertificateRequired,
	"no application protocol":        NoApplicationProtocol,
}

// FromGoError returns the alert a peer sent, from the error crypto/tls
// returns for it ("remote error: tls: illegal parameter"). Alerts from a
// peer are always fatal in TLS 1.3 and in practice in TLS 1.2.
func FromGoError(err error) (Alert, bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		i := strings.Index(msg, "remote error: tls: ")
		if i < 0 {
			continue
		}
		text := msg[i+len("remote error: tls: "):]
		if d, ok := goText[text]; ok {
			return Alert{Level: Fatal, Description: d}, true
		}
	}
	return Alert{}, false
}

// Words is the alert's name in words, as OpenSSL prints it after "sslv3
// alert" ("illegal parameter").
func (d Description) Words() string { return strings.ReplaceAll(d.String(), "_", " ") }
