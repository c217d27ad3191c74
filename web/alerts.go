package web

import (
	"strconv"

	"github.com/mxlab/mxlab/tlsalert"
)

// alertText explains, in one sentence each, what an alert means when the
// server (the lab) sends it and when the client sends it. The meanings
// follow RFC 8446 §6.2 and RFC 5246 §7.2.2, worded for mail: the page
// shows the sentence next to the alert so that a learner need not look
// the number up. The names come from tlsalert, so the UI and the rest of
// mxlab speak of the same alert with the same name.
var alertText = map[tlsalert.Description]struct{ server, client string }{
	tlsalert.CloseNotify: {
		"the server is closing the TLS connection in an orderly way.",
		"the client is closing the TLS connection in an orderly way.",
	},
	tlsalert.UnexpectedMessage: {
		"the server received a message it did not expect at this point of the handshake, such as plaintext SMTP after \"220 Ready to start TLS\".",
		"the client received a message it did not expect at this point of the handshake.",
	},
	tlsalert.BadRecordMAC: {
		"a record the server received failed its integrity check: corrupted on the way or keys that do not match.",
		"a record the client received failed its integrity check: corrupted on the way or keys that do not match.",
	},
	tlsalert.RecordOverflow: {
		"the client sent a record longer than TLS allows.",
		"the server sent a record longer than TLS allows.",
	},
	tlsalert.HandshakeFailure: {
		"the server found no cipher suite, certificate or parameters it could use with what the client offered (OpenSSL logs \"no shared cipher\").",
		"the client found nothing acceptable in what the server chose.",
	},
	tlsalert.BadCertificate: {
		"the server does not accept the client certificate it was sent.",
		"the client refuses the server's certificate: it is corrupt or its signature does not verify.",
	},
	tlsalert.UnsupportedCertificate: {
		"the server does not support the type of the client certificate.",
		"the client does not support the type of the server's certificate.",
	},
	tlsalert.CertificateRevoked: {
		"the client certificate was revoked by its issuer.",
		"the server's certificate was revoked by its issuer.",
	},
	tlsalert.CertificateExpired: {
		"the client certificate has expired or is not yet valid.",
		"the server's certificate has expired or is not yet valid.",
	},
	tlsalert.CertificateUnknown: {
		"the server could not accept the client certificate for some other reason.",
		"the client refuses the server's certificate, for example because it does not name the host it wanted.",
	},
	tlsalert.IllegalParameter: {
		"the server refused a value in the ClientHello, most often the server name (SNI) the client asked for, as GnuTLS does for a name with '_' in it.",
		"the client refused a value in the server's handshake as out of range or inconsistent.",
	},
	tlsalert.UnknownCA: {
		"the server does not trust the CA that issued the client certificate.",
		"the client does not trust the CA that issued the server's certificate, for example a self-signed one.",
	},
	tlsalert.AccessDenied: {
		"the server refuses this client by policy, though the handshake itself was valid.",
		"the client refuses to go on by policy, though the handshake itself was valid.",
	},
	tlsalert.DecodeError: {
		"the server could not parse a handshake message from the client, for example a malformed SNI extension.",
		"the client could not parse a handshake message from the server.",
	},
	tlsalert.DecryptError: {
		"a signature or Finished message from the client did not verify.",
		"a signature or Finished message from the server did not verify.",
	},
	tlsalert.ProtocolVersion: {
		"none of the TLS versions the client offered is one the server accepts.",
		"the client does not accept the TLS version the server chose.",
	},
	tlsalert.InsufficientSecurity: {
		"the server requires stronger cipher suites or parameters than the client offered.",
		"the client requires stronger cipher suites or parameters than the server chose.",
	},
	tlsalert.InternalError: {
		"the server's TLS library failed for a reason of its own, unrelated to what the client sent.",
		"the client's TLS library failed for a reason of its own, unrelated to what the server sent.",
	},
	tlsalert.InappropriateFallback: {
		"the client retried with a lower TLS version than both sides support, which the server takes for a downgrade attack.",
		"the server chose a lower TLS version than both sides support, which the client takes for a downgrade attack.",
	},
	tlsalert.UserCanceled: {
		"the server cancelled the handshake for a reason unrelated to the protocol.",
		"the client cancelled the handshake for a reason unrelated to the protocol.",
	},
	tlsalert.MissingExtension: {
		"the client left out an extension TLS 1.3 requires for what it offered.",
		"the server left out an extension TLS 1.3 requires.",
	},
	tlsalert.UnsupportedExtension: {
		"the client sent an extension the server cannot accept in that message.",
		"the server sent an extension the client never offered.",
	},
	tlsalert.UnrecognizedName: {
		"the server does not serve the host name the client put in SNI (or requires a name the client did not send).",
		"the client did not recognise the name the server answered for.",
	},
	tlsalert.BadCertificateStatus: {
		"the OCSP response for the client certificate was invalid.",
		"the OCSP response the server stapled to its certificate was invalid or unacceptable.",
	},
	tlsalert.UnknownPSKIdentity: {
		"the server knows none of the pre-shared keys the client offered.",
		"the client knows none of the pre-shared keys the server chose.",
	},
	tlsalert.CertificateRequired: {
		"the server requires a client certificate and the client sent none.",
		"the client requires a certificate the server did not send.",
	},
	tlsalert.NoApplicationProtocol: {
		"the server supports none of the application protocols (ALPN) the client offered.",
		"the client does not accept the application protocol the server chose.",
	},
}

// alertJSON is one alert in /static/alerts.json.
type alertJSON struct {
	Name   string `json:"name"`
	Server string `json:"server"`
	Client string `json:"client"`
}

// alertTable is /static/alerts.json: every alert of the registry by its
// number, with its name and what it means from each side.
func alertTable() map[string]alertJSON {
	t := make(map[string]alertJSON, len(alertText))
	for d, s := range alertText {
		t[strconv.Itoa(int(d))] = alertJSON{Name: d.String(), Server: s.server, Client: s.client}
	}
	return t
}
