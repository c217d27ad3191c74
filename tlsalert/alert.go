// Package tlsalert names TLS alerts (RFC 8446 §6, RFC 5246 §7.2) and writes
// them as records, so that the lab and the sender speak of the same alert
// with the same number and name.
package tlsalert

import (
	"fmt"
	"strings"
)

// Level is an alert's level byte.
type Level uint8

// Alert levels (RFC 5246 §7.2).
const (
	Warning Level = 1
	Fatal   Level = 2
)

// String returns "warning" or "fatal".
func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Fatal:
		return "fatal"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// Description is an alert's description byte: the alert number users quote
// ("SSL alert number 47").
type Description uint8

// The alert descriptions mail senders meet (IANA TLS Alerts registry).
const (
	CloseNotify            Description = 0
	UnexpectedMessage      Description = 10
	BadRecordMAC           Description = 20
	RecordOverflow         Description = 22
	HandshakeFailure       Description = 40
	BadCertificate         Description = 42
	UnsupportedCertificate Description = 43
	CertificateRevoked     Description = 44
	CertificateExpired     Description = 45
	CertificateUnknown     Description = 46
	IllegalParameter       Description = 47
	UnknownCA              Description = 48
	AccessDenied           Description = 49
	DecodeError            Description = 50
	DecryptError           Description = 51
	ProtocolVersion        Description = 70
	InsufficientSecurity   Description = 71
	InternalError          Description = 80
	InappropriateFallback  Description = 86
	UserCanceled           Description = 90
	MissingExtension       Description = 109
	UnsupportedExtension   Description = 110
	UnrecognizedName       Description = 112
	BadCertificateStatus   Description = 113
	UnknownPSKIdentity     Description = 115
	CertificateRequired    Description = 116
	NoApplicationProtocol  Description = 120
)

// names holds the registry's names, in the snake case the RFCs and
// crypto/tls use.
var names = map[Description]string{
	CloseNotify:            "close_notify",
	UnexpectedMessage:      "unexpected_message",
	BadRecordMAC:           "bad_record_mac",
	RecordOverflow:         "record_overflow",
	HandshakeFailure:       "handshake_failure",
	BadCertificate:         "bad_certificate",
	UnsupportedCertificate: "unsupported_certificate",
	CertificateRevoked:     "certificate_revoked",
	CertificateExpired:     "certificate_expired",
	CertificateUnknown:     "certificate_unknown",
	IllegalParameter:       "illegal_parameter",
	UnknownCA:              "unknown_ca",
	AccessDenied:           "access_denied",
	DecodeError:            "decode_error",
	DecryptError:           "decrypt_error",
	ProtocolVersion:        "protocol_version",
	InsufficientSecurity:   "insufficient_security",
	InternalError:          "internal_error",
	InappropriateFallback:  "inappropriate_fallback",
	UserCanceled:           "user_canceled",
	MissingExtension:       "missing_extension",
	UnsupportedExtension:   "unsupported_extension",
	UnrecognizedName:       "unrecognized_name",
	BadCertificateStatus:   "bad_certificate_status_response",
	UnknownPSKIdentity:     "unknown_psk_identity",
	CertificateRequired:    "certificate_required",
	NoApplicationProtocol:  "no_application_protocol",
}

// String returns the registry name, e.g. "illegal_parameter".
func (d Description) String() string {
	if n, ok := names[d]; ok {
		return n
	}
	return fmt.Sprintf("alert(%d)", uint8(d))
}

// Known reports whether d is in the registry.
func (d Description) Known() bool {
	_, ok := names[d]
	return ok
}

// ParseDescription accepts a registry name ("illegal_parameter") or a
// number ("47").
func ParseDescription(s string) (Description, error) {
	s = strings.TrimSpace(s)
	for d, n := range names {
		if strings.EqualFold(n, s) {
			return d, nil
		}
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s && n >= 0 && n < 256 {
		return Description(n), nil
	}
	return 0, fmt.Errorf("tlsalert: unknown alert %q (want a name such as %q or a number)", s, IllegalParameter.String())
}

// Alert is one alert as it went over the wire.
type Alert struct {
	Level       Level
	Description Description
}

// Record returns the 7-byte TLS record that carries the alert, with the
// given record-layer version (e.g. 0x0303).
func (a Alert) Record(version uint16) []byte {
	return []byte{21, byte(version >> 8), byte(version), 0, 2, byte(a.Level), byte(a.Description)}
}

// JSON is the alert's shape in session records and sender reports.
type JSON struct {
	Level string `json:"level"`
	Code  int    `json:"code"`
	Name  string `json:"name"`
}

// JSON returns the alert as it appears in records.
func (a Alert) JSON() *JSON {
	return &JSON{Level: a.Level.String(), Code: int(a.Description), Name: a.Description.String()}
}

// String renders "fatal alert 47 (illegal_parameter)".
func (a Alert) String() string {
	return fmt.Sprintf("%s alert %d (%s)", a.Level, uint8(a.Description), a.Description)
}
