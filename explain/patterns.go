package explain

import "regexp"

// noScenario in a rule says that no lab scenario reproduces the case, even
// where its kind's default has one.
const noScenario = "-"

// rule recognises one MTA or provider wording. Rules are tried in order,
// most specific first; the first that matches decides the kind.
type rule struct {
	name string
	re   *regexp.Regexp
	// source is who writes this wording; "" keeps what detectSource found.
	source string
	// side is forced for wordings only one side writes; "" keeps detectSide's.
	side string
	// kind is the failure kind; "" lets the decoded alert or reason decide.
	kind string
	// generic: an alert or library reason decoded from the same text says
	// more than this rule does ("Cannot start TLS: handshake failure" next
	// to "SSL alert number 47").
	generic bool
	// scenario overrides the kind's scenario (noScenario for none).
	scenario string
	// causes, receiverDid and fix override the kind's advice.
	causes      []string
	receiverDid string
	fix         string
}

func re(s string) *regexp.Regexp { return regexp.MustCompile(`(?i)` + s) }

// rules are the wordings explain knows, each with where it comes from.
var rules = []rule{
	// --- the sender's own policy and resolver ---

	// Postfix smtp(8) when its TLS policy lookup fails: "warning: TLS
	// policy lookup for gmail.com/gmail-smtp-in.l.google.com: client TLS
	// configuration problem", then "status=deferred (client TLS
	// configuration problem)" with relay=none (Snawoot/postfix-mta-sts-
	// resolver #66, an attribute Postfix does not know; mailcow-dockerized
	// #1856, a failing SQL table); and at dane-only without TLSA records:
	// "status=deferred (no TLSA records found)" (Zuplu/postfix-tlspol #52).
	{name: "postfix-sender-policy", re: re(`client TLS\s+configuration problem|\(no TLSA records found\)|TLS policy lookup for \S+: (?:client TLS|policy)|smtp_tls_policy_maps, next-hop destination .*?(?:invalid attribute|lookup error)`), side: SideSender, kind: KindSenderPolicy},
	// A TLSA lookup that failed: Postfix "warning: DANE TLSA lookup
	// problem: ... Name service error for name=_25._tcp.mx type=TLSA: Host
	// not found, try again" and "status=deferred (TLSA lookup error for
	// mx:25)" (0xERR0R/blocky #1969); unbound-host's "Host
	// _25._tcp.mx not found: 2(SERVFAIL)" (danefail/list #35).
	{name: "tlsa-lookup-failed", re: re(`TLSA lookup (?:error|problem)|type=TLSA: Host not found, try again|_\d+\._tcp\.\S+ not found: 2\(SERVFAIL\)`), side: SideSender, kind: KindTLSALookupFailed},

	// --- DANE, DNSSEC, MTA-STS ---

	// Postfix smtp(8) with smtp_tls_security_level=dane: "server certificate
	// verification failed for mx[ip]:25: num=65:no matching DANE TLSA
	// records" (measured, docs/interop-recipe.md §5; Mailu issue #3288 shows
	// "CA certificate verification failed ...: num=65:...").
	{name: "postfix-dane-no-match", re: re(`no matching DANE TLSA records|num=65\b`), source: "postfix", kind: KindTLSAInvalid},
	// Microsoft 365 DANE results (Microsoft Learn "How SMTP DANE works",
	// as quoted in sisimai rhost/for-microsoft.go): 4/5.7.323 tlsa-invalid,
	// 4/5.7.324 dnssec-invalid, 4/5.7.325 certificate-host-mismatch,
	// 4/5.7.321 starttls-not-supported, 5.7.322 certificate-expired,
	// 4/5.4.8 failed MTA-STS validation.
	{name: "m365-tlsa-invalid", re: re(`\b[45]\.7\.323\b|\btlsa-invalid\b`), source: "outlook", kind: KindTLSAInvalid},
	{name: "m365-dnssec-invalid", re: re(`\b[45]\.7\.324\b|\bdnssec-invalid\b`), source: "outlook", kind: KindDNSSECInvalid},
	{name: "m365-dane-host-mismatch", re: re(`\b[45]\.7\.325\b`), source: "outlook", kind: KindCertificateHostMismatch},
	{name: "m365-starttls-not-supported", re: re(`\b[45]\.7\.321\b|\bstarttls-not-supported\b`), source: "outlook", kind: KindStartTLSNotSupported},
	{name: "m365-certificate-expired", re: re(`\b[45]\.7\.322\b|\bcertificate-expired:`), source: "outlook", kind: KindCertificateExpired},
	{name: "m365-sts-webpki", re: re(`Remote certificate failed MTA-STS validation`), source: "outlook", kind: KindSTSWebPKIInvalid},
	{name: "m365-sts-policy", re: re(`failed MTA-STS validation`), source: "outlook", kind: KindSTSPolicyInvalid},
	// Microsoft 365 message trace: "450 4.7.320 Certificate validation
	// failed [Message=SubjectMismatch]" (xostmoen.wordpress.com 2017;
	// blogs.technet.microsoft.com exchangechallengeaccepted 2017).
	{name: "m365-subject-mismatch", re: re(`4\.7\.320\b.*SubjectMismatch|MSG=SubjectMismatch|Message=SubjectMismatch`), source: "outlook", kind: KindCertificateHostMismatch},
	{name: "m365-cert-validation", re: re(`\b[45]\.7\.320\b|Certificate validation failed`), source: "outlook", kind: KindValidationFailure, scenario: noScenario},
	// Microsoft 365: "450 4.4.317 Cannot connect to remote server
	// [Message=... TlsStartFailed]"; Microsoft documents 4.4.317 as "the
	// destination server responds to the STARTTLS command, but the TLS
	// handshake fails" (quoted in sisimai rhost/for-microsoft.go).
	{name: "m365-4.4.317", re: re(`\b[45]\.4\.317\b|TlsStartFailed`), source: "outlook", kind: KindHandshakeFailure, generic: true,
		causes: []string{
			"the receiving server answered STARTTLS but the TLS handshake with Microsoft 365 failed: no certificate, no cipher suite or TLS version in common (Microsoft 365 offers only TLS 1.2 and 1.3)",
			"an Exchange receive connector whose TlsCertificateName names a certificate that was replaced or removed, so the server cannot start TLS (ex-shell.com 2022; Microsoft's Exchange team blog)",
			"a firewall with SMTP inspection between Microsoft 365 and the server that breaks STARTTLS",
		}},

	// --- STARTTLS not offered or refused ---

	// Postfix smtp(8): "TLS is required, but was not offered by host %s"
	// (dsn=4.7.4; string in the Postfix 3.7 smtp binary, measured in
	// docs/interop-recipe.md §5; posted from Posteo's TLS-sending guarantee).
	{name: "postfix-tls-required", re: re(`TLS is required, but was not offered`), source: "postfix", side: SideSender, kind: KindStartTLSNotSupported},
	// Postfix smtp(8): "TLS is required, but host %s refused to start TLS: %s".
	{name: "postfix-starttls-refused", re: re(`TLS is required, but host .*?refused to start TLS`), source: "postfix", side: SideSender, kind: KindStartTLSRefused},
	// Stalwart: "TLS error from 'mx': STARTTLS not advertised by host."
	// (stalwartlabs/stalwart #260); swaks: "*** Host did not advertise
	// STARTTLS" (swaks 20201014 source).
	// Thunderbird: "Unable to establish a secure link with Outgoing server
	// (SMTP) host using STARTTLS since it doesn't advertise that feature"
	// (mail-in-a-box/mailinabox #1535).
	{name: "starttls-not-advertised", re: re(`STARTTLS not advertised|did not advertise STARTTLS|using STARTTLS since it doesn.?t advertise`), side: SideSender, kind: KindStartTLSNotSupported},
	// Postfix's server side when it cannot load its certificate, key or CA
	// data: "cannot load Certificate Authority data: disabling TLS
	// support" (Postfix tls/tls_server.c; kvaps/docker-kolab #8); EHLO
	// then lists no STARTTLS.
	{name: "postfix-disabling-tls", re: re(`disabling TLS support`), source: "postfix", side: SideReceiver, kind: KindStartTLSNotSupported,
		receiverDid: "Your server (the receiver) could not load its TLS certificate, key or CA data at startup, switched TLS off and stopped offering STARTTLS; senders that require TLS defer, the others deliver in plaintext.",
		fix:         "Fix the file the warning names (an empty or unreadable chain, a key that does not match) and reload the MTA; postfix check and openssl x509 -noout -in FILE show what is wrong."},
	// A sender's log of STARTTLS answered as an unknown command: mox's
	// "tls error: STARTTLS: got 502, expected 220, permanent: 502 5.5.1
	// Error: command not implemented" (mjl-/mox #365 has the same line).
	{name: "starttls-answered-50x", re: re(`STARTTLS:? got 50[0-4]\b`), side: SideSender, kind: KindStartTLSNotSupported},
	// The receiver's own replies to a STARTTLS it did not advertise
	// (recorded transcripts, docs/real-peers.md §4): sendmail
	// "503 5.5.0 TLS not available", Exim "503 STARTTLS command used when
	// not advertised", Postfix "502 5.5.1 Error: command not implemented"
	// is too generic to use.
	{name: "sendmail-503-tls", re: re(`503 5\.5\.0 TLS not available`), source: "sendmail", kind: KindStartTLSNotSupported},
	{name: "exim-503-starttls", re: re(`STARTTLS command used when not advertised`), source: "exim", kind: KindStartTLSNotSupported},
	// The receiver advertised STARTTLS but cannot start it
	// (docs/real-peers.md §4): sendmail "454 4.3.3 TLS not
	// available after start", Exim "454 TLS currently unavailable", Postfix
	// "454 4.7.0 TLS not available due to local problem".
	{name: "starttls-454", re: re(`454 4\.3\.3 TLS not available after start|454 TLS currently unavailable|TLS not available due to local problem`), kind: KindStartTLSRefused},

	// --- the receiver's view of a sender that gives up after TLS ---

	// Postfix smtpd(8)'s session summary when the client did STARTTLS and
	// then said QUIT without MAIL: "disconnect from mail-40141.protonmail.ch
	// [185.70.40.141] ehlo=1 starttls=1 quit=1 commands=3" (iter.ca 2023,
	// Proton sending to a Mail-in-a-Box server; the tlsa-mismatch incident
	// in scenarios/builtin/tlsa-mismatch.yaml; docs/interop-recipe.md §6b:
	// Postfix at dane does the same).
	{name: "postfix-quit-after-starttls", re: re(`\behlo=\d+ starttls=1 quit=1 commands=\d+`), source: "postfix", side: SideReceiver, kind: KindValidationFailure,
		receiverDid: "Your server (the receiver) completed STARTTLS and the TLS handshake, then the sender said QUIT without sending any mail: it checked your certificate after the handshake and did not accept it.",
		causes: []string{
			"DANE: your domain publishes TLSA records and your certificate or key matches none of them, most often after a renewal with a new key; DANE-validating senders (Proton, Microsoft 365, Postfix at dane) give up, everyone else delivers",
			"MTA-STS: your policy is in enforce mode and the certificate does not name the MX host or does not chain to a public CA",
			"the sender requires a verified certificate for your domain by local policy (Postfix verify or secure) and yours is self-signed or names another host",
		},
		fix: "Check the TLSA records against the key in use (posttls-finger -t30 -T180 -c -l dane <domain> from any host with a validating resolver); publish TLSA for a new key before deploying it (RFC 7671 §8.1), or keep the key across renewals (certbot --reuse-key)."},

	// --- certificate verification ---

	// Gmail: "TLS Negotiation failed, the certificate doesn't match the
	// host." (antradar.com 2020, blog.gaiterjones.com 2020). Both report
	// that self-signed certificates get the same wording, hence the
	// scenario.
	{name: "gmail-cert-host", re: re(`TLS Negotiation failed, the certificate doesn.?t match the host`), source: "gmail", side: SideSender, kind: KindCertificateHostMismatch,
		causes: []string{
			"the certificate does not name the host Gmail connected to (an MX or SMTP host name missing from the certificate's subject alternative names)",
			"the certificate is self-signed: Gmail reports a self-signed certificate with this same wording (Gmail's \"Send mail as\" path verifies certificates since April 2020)",
			"the server sends a default certificate because it picks the certificate by SNI and has none for that name",
		}},
	// Gmail wording named in the issue; no public posting was found.
	{name: "gmail-cert-invalid", re: re(`certificate for the recipient domain is invalid`), source: "gmail", side: SideSender, kind: KindCertificateNotTrusted},
	// Postfix smtp(8) verification log lines (Postfix TLS_README; measured
	// in docs/interop-recipe.md §5): "certificate verification failed for
	// mx[ip]:25: num=62:hostname mismatch", "...: certificate has expired",
	// "...: self-signed certificate", "...: untrusted issuer /C=...".
	{name: "verify-hostname", re: re(`num=62:hostname mismatch|certificate verification failed for .*?hostname mismatch|x509: certificate is valid for|NotValidForName`), kind: KindCertificateHostMismatch},
	{name: "verify-expired", re: re(`certificate verification failed for .*?(?:certificate has expired)|verify error:num=10:|x509: certificate has expired|invalid peer certificate: Expired`), kind: KindCertificateExpired},
	{name: "verify-untrusted", re: re(`certificate verification failed for .*?(?:self[- ]signed|untrusted issuer|unable to get (?:local )?issuer)|verify error:num=(?:18|19|20|21):|x509: certificate signed by unknown authority|invalid peer certificate: UnknownIssuer`), kind: KindCertificateNotTrusted},
	// Postfix smtp(8) deferral texts (src/smtp/smtp_proto.c): at levels >=
	// verify "Server certificate not trusted" (Postfix before 3.x) and at
	// levels > encrypt "Server certificate not verified" (dsn=4.7.5; string
	// in the Postfix 3.7 binary; kernel-error.de 2015 posted the DSN of a
	// DANE failure with it).
	{name: "postfix-not-trusted", re: re(`Server certificate not trusted`), source: "postfix", side: SideSender, kind: KindCertificateNotTrusted,
		causes: []string{
			"the certificate does not chain to a CA the sending Postfix trusts (self-signed, an incomplete chain, a private CA) and the sender verifies (smtp_tls_security_level = verify or secure)",
			"DANE: older Postfix reports a certificate that matches none of the TLSA records this way, since only a matching TLSA record makes it trusted (Postfix 3.x says \"Server certificate not verified\")",
			"the sender's CA list (smtp_tls_CAfile, smtp_tls_CApath) is missing or out of date",
		}},
	{name: "postfix-not-verified", re: re(`Server certificate not verified`), source: "postfix", side: SideSender, kind: KindValidationFailure},
	// sendmail: "STARTTLS=client, relay=..., version=..., verify=FAIL, ..."
	// (format string in the sendmail 8.17 binary; serverfault question
	// 797007 posted it with "verifymsg=unable to get local issuer
	// certificate"). sendmail still delivers unless a ruleset requires
	// verification.
	{name: "sendmail-verify-fail", re: re(`STARTTLS=client, relay=.*?verify=FAIL`), source: "sendmail", side: SideSender, kind: KindCertificateNotTrusted,
		receiverDid: "The receiving server completed the TLS handshake, but its certificate did not verify against the sender's CA list (sendmail logs verify=FAIL and, unless its tls_server ruleset demands verify=OK, delivers anyway).",
		fix:         "Serve a CA-signed certificate for the MX name with its full chain; on the sending sendmail, point confCACERT_PATH/confCACERT at the system CA bundle so that verify=OK is possible."},

	// --- the TLS handshake itself ---

	// GnuTLS server, Exim's receiving side: "TLS error on connection from
	// (helo) [ip] (gnutls_handshake): A disallowed SNI server name has
	// been received." (gnutls-serv 3.7.9 logs "Error in handshake: A
	// disallowed SNI server name has been received.", measured in
	// docs/real-peers.md §1a; Exim 4.96 logs "TLS error on %s %s", from its
	// source, docs/real-peers.md §1c).
	{name: "gnutls-disallowed-sni", re: re(`disallowed SNI server name`), side: SideReceiver},
	// Gmail's bounce: "TLS Negotiation failed: FAILED_PRECONDITION:
	// starttls error (71): ...error:10000417:SSL routines:OPENSSL_internal:
	// SSLV3_ALERT_ILLEGAL_PARAMETER:...:SSL alert number 47" (herzbube.ch
	// 2024). The number in "starttls error (71)" is Gmail's own, not an
	// alert. "starttls error (0): protocol error" (postalserver/postal
	// #1229) comes without library detail.
	{name: "gmail-protocol-error", re: re(`starttls error \(0\): protocol error`), source: "gmail", side: SideSender, kind: KindHandshakeFailure, generic: true, scenario: noScenario,
		causes: []string{
			"the receiving server closed the connection during the handshake without sending an alert (a crashed or misconfigured TLS library, a connection limit, or a firewall or IPS that drops TLS)",
			"something that is not TLS answered after \"220 Ready to start TLS\" (a proxy or load balancer in front of the MX that does not pass STARTTLS through)",
			"packets lost on the path during the handshake (an MTU problem: the server's certificate flight is the first large packet)",
		}},
	{name: "gmail-bad-signature", re: re(`TLS Negotiation failed.*?BAD_SIGNATURE`), source: "gmail", side: SideSender, kind: KindHandshakeFailure, scenario: noScenario,
		receiverDid: "The receiving server completed its part of the handshake, but the signature it made with its private key did not verify against the certificate it sent, so Gmail aborted (BoringSSL BAD_SIGNATURE).",
		causes: []string{
			"the server's private key does not belong to the certificate it presents (a certificate renewed or replaced without its key, or files from two different pairs)",
			"a broken RSA-PSS implementation on the server side, for example an old TLS library or a hardware security module that signs wrongly",
			"a TLS-inspecting middlebox that re-signs the handshake badly",
		},
		fix: "Check that the certificate and the key match (openssl x509 -noout -pubkey -in cert.pem and openssl pkey -pubout -in key.pem must print the same key), install the matching pair, and update the server's TLS library."},
	{name: "gmail-tls-negotiation", re: re(`TLS Negotiation failed|FAILED_PRECONDITION: starttls error`), source: "gmail", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// Postfix smtp(8): "Cannot start TLS: handshake failure" (dsn=4.7.5;
	// string in the Postfix 3.7 binary; measured, docs/interop-recipe.md §5 and
	// §6a; mailcow-dockerized #3110 posted the DSN).
	{name: "postfix-cannot-start-tls", re: re(`Cannot start TLS: handshake failure`), source: "postfix", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// Postfix smtp(8) without library detail: "SSL_connect error to
	// mx[ip]:25: lost connection".
	{name: "postfix-ssl-connect-lost", re: re(`SSL_connect error to \S+: lost connection`), source: "postfix", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// sendmail with its default tls_server ruleset: "ruleset=tls_server,
	// arg1=SOFTWARE, relay=..., reject=403 4.7.0 TLS handshake failed."
	// (brandonhutchinson.com; sonic.net log lines in
	// augieschwer/grok-patterns test-sendmail.rb; cf/README: SOFTWARE is
	// "STARTTLS handshake failed").
	{name: "sendmail-403", re: re(`403 4\.7\.0 TLS handshake failed|ruleset=tls_server, arg1=SOFTWARE`), source: "sendmail", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// sendmail: "STARTTLS=client, error: connect failed=%d, reason=%s,
	// SSL_error=%d, errno=%d, retry=%d" and "STARTTLS=server, error: accept
	// failed=%d, reason=%s, ..., relay=%.100s" (format strings in the
	// sendmail 8.17 binary; srvrsmtp.c); older sendmail logs
	// "STARTTLS=client, error: connect failed=0, SSL_error=5".
	{name: "sendmail-server-accept", re: re(`STARTTLS=server, error: accept failed`), source: "sendmail", side: SideReceiver, kind: KindHandshakeFailure, generic: true},
	{name: "sendmail-client-connect", re: re(`STARTTLS=client, error: connect failed`), source: "sendmail", side: SideSender, kind: KindHandshakeFailure, generic: true},
	{name: "sendmail-starttls", re: re(`STARTTLS(?:=\w+)?: .*?(?:no shared cipher|handshake failure)`), source: "sendmail", kind: KindHandshakeFailure, generic: true},
	// Exim's sending side: "a TLS session is required, but an attempt to
	// start TLS failed" and "TLS session: (SSL_connect): error:..." (strings
	// in the Exim 4.96 binary: "a TLS session is required, but %s", "an
	// attempt to start TLS failed", "TLS session: %s").
	{name: "exim-tls-required", re: re(`a TLS session is required, but an attempt to start TLS failed`), source: "exim", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// The parenthesis names the failing step: (SSL_connect),
	// (gnutls_handshake), (certificate verification failed) (Exim's
	// tls-gnu.c; ix-ai/smtp #11 quotes "TLS session: (certificate
	// verification failed): certificate invalid").
	{name: "exim-tls-session", re: re(`TLS session: \(`), source: "exim", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// Exim on either side: "H=%s [%s] TLS error on connection %s", the
	// direction in "from" (receiving) or "to" (sending); the library's
	// message follows in parentheses (gnutls_handshake) or (SSL_accept).
	{name: "exim-tls-error-from", re: re(`TLS error on connection from .*?\((?:gnutls_handshake|SSL_accept)\)`), source: "exim", side: SideReceiver, kind: KindHandshakeFailure, generic: true},
	{name: "exim-tls-error-to", re: re(`TLS error on connection to .*?\((?:gnutls_handshake|SSL_connect)\)`), source: "exim", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// Postfix's TLS engine on either side: "SSL_connect error to mx[ip]:25:
	// -1" / "SSL_accept error from client[ip]: -1", each followed by
	// "warning: TLS library problem: error:..." (measured,
	// docs/interop-recipe.md §5; docker-mailserver #1784, #620; bokysan
	// docker-postfix #167).
	{name: "postfix-ssl-accept", re: re(`SSL_accept error from|lost connection after STARTTLS from`), source: "postfix", side: SideReceiver, kind: KindHandshakeFailure, generic: true},
	{name: "postfix-ssl-connect", re: re(`SSL_connect error to`), source: "postfix", side: SideSender, kind: KindHandshakeFailure, generic: true},
	{name: "postfix-tls-library-problem", re: re(`TLS library problem`), source: "postfix", kind: KindHandshakeFailure, generic: true},
	// swaks: "*** TLS startup failed (connect(): error:0A000417:SSL
	// routines::sslv3 alert illegal parameter)" (measured, swaks 20201014
	// with OpenSSL 3.0.19, docs/real-peers.md §3; jetmore/swaks #30).
	{name: "swaks-tls-startup", re: re(`TLS startup failed|STARTTLS attempted but failed`), source: "swaks", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// Stalwart (rustls): "TLS error from 'mx': Handshake failed: received
	// fatal alert: HandshakeFailure" (stalwartlabs/stalwart #734).
	{name: "stalwart-tls-error", re: re(`TLS error from '[^']*': Handshake failed`), source: "stalwart", side: SideSender, kind: KindHandshakeFailure, generic: true},
	// gnutls-cli: "*** Fatal error: A TLS fatal alert has been received."
	{name: "gnutls-cli-fatal", re: re(`\*\*\* Fatal error: A TLS fatal alert has been received`), source: "gnutls", side: SideSender, kind: KindHandshakeFailure, generic: true},
}

// sourceSignatures recognise who wrote a text when no rule names it, in
// order: an MTA's own log format wins over the TLS library it quotes.
var sourceSignatures = []struct {
	name string
	re   *regexp.Regexp
}{
	{"gmail", re(`TLS Negotiation failed|FAILED_PRECONDITION: starttls|third_party/openssl/boringssl|Reporting-MTA: dns; ?googlemail\.com`)},
	{"outlook", re(`\bLED=|protection\.outlook\.com|TlsStartFailed|SMTPSEND\.`)},
	{"postfix", re(`postfix/|X-Postfix|lost connection with \S+ while |\bdsn=\d\.\d+\.\d+, status=|said: [45]\d\d\b.*\(in reply to [A-Z ]+ command\)|client TLS\s+configuration problem|Cannot start TLS|TLS is required, but|Server certificate not (?:verified|trusted)|SSL_(?:connect|accept) error (?:to|from)|lost connection after STARTTLS|TLS library problem|num=\d+:`)},
	{"exim", re(`TLS error on connection|Remote host closed connection in response to|a TLS session is required|TLS session: \(|SMTP error from remote mail server|STARTTLS command used when not advertised`)},
	{"sendmail", re(`STARTTLS=(?:client|server)|Deferred: Connection refused by|ruleset=tls_server|\bsm-mta\[|\bsendmail\[|403 4\.7\.0 TLS handshake failed|TLS not available after start|503 5\.5\.0 TLS not available`)},
	{"stalwart", re(`TLS error from '`)},
	// Other MTAs and libraries, by their log formats: mox (key=value lines
	// with pkg=queue, mjl-/mox #365), maddy ("remote: TLS verify error",
	// foxcpp/maddy #203), OpenSMTPD ("smtp-out:", OpenSMTPD #491), Halon
	// ("hsh: smtp_", danefail/list #30), dma ("dma[...]", corecode/dma #87),
	// JavaMail's exception names, unbound-host.
	{"mox", re(`\bpkg=(?:queue|smtpclient)\b`)},
	{"maddy", re(`\bremote: TLS verify error`)},
	{"opensmtpd", re(`\bsmtp-out: |\bsmtpd\[\d+\]: warn: `)},
	{"halon", re(`\bhsh: smtp_`)},
	{"dma", re(`\bdma\[[0-9a-f.]+\]`)},
	{"javamail", re(`\bcom\.sun\.mail\.|\bjakarta\.mail\.`)},
	{"unbound", re(`\bunbound-host\b`)},
	{"haraka", re(`\[core\]|\[tls\] timeout`)},
	{"swaks", re(`\*\*\* TLS startup failed|STARTTLS attempted but failed|\*\*\* Host did not advertise STARTTLS`)},
	{"gnutls", re(`\*\*\* Received alert \[|\*\*\* Fatal error:|gnutls-serv|Error in handshake:`)},
}

// Signals of the side that wrote a text. Receiving-side signals are tried
// first: sendmail's server lines carry "relay=" too.
var (
	receiverSignals = re(`postfix/(?:\w+/)?smtpd\[|postfix/postscreen|SSL_accept|STARTTLS=server|TLS error on connection from|lost connection after STARTTLS from|tls_post_process_client_hello|tls_early_post_process_client_hello|tls_process_client_hello|ssl3_get_client_hello|statem_srvr\.c|s3_srvr\.c|Error in handshake:|\[core\]|gnutls-serv|imap-login|\[tls\] timeout`)
	// OpenSSL's client-side function and file names (ssl_choose_client_version,
	// tls_process_server_hello, statem_clnt.c; 1.0's SSL3_GET_SERVER_HELLO,
	// s3_clnt.c) and Go's client error for the version a server chose
	// say the writer is the client.
	senderSignals = re(`postfix/(?:\w+/)?smtp\[|SSL_connect|ssl_choose_client_version|tls_process_server_hello|tls_process_server_certificate|tls_post_process_server_certificate|ssl3_get_server_hello|ssl3_get_server_certificate|statem_clnt\.c|s3_clnt\.c|server selected unsupported protocol version|lost connection with \S+ while |Remote host closed connection in response to|\bconnect to \S+: Connection refused|Deferred: Connection refused by|STARTTLS=client|TLS error on connection to|TLS session: \(|TLS Negotiation failed|relay=|\bto=<|Diagnostic-Code|Final-Recipient|Remote-MTA|s_client|CONNECTED\(|TLS startup failed|\*\*\* Received alert|remote error: tls|TLS error from '|SMTP error from remote`)
)

// peerSignatures recognise, in a receiving server's log, the sender it
// talked to, so that a reproduction imitates that sender. Host names from
// the posted logs: protonmail.ch and mail-europe.com (iter.ca 2023),
// outbound.protection.outlook.com (openssl/openssl #22926), google.com
// (docker-mailserver #1138).
var peerSignatures = []struct {
	name string
	re   *regexp.Regexp
}{
	{"proton", re(`protonmail\.ch\b|mail-europe\.com\b|\bproton\.me\b`)},
	{"outlook", re(`\.outbound\.protection\.outlook\.com\b|\.prod\.outlook\.com\b`)},
	{"gmail", re(`\.google\.com\b|\.googlemail\.com\b`)},
}

func detectPeer(text string) string {
	for _, p := range peerSignatures {
		if p.re.MatchString(text) {
			return p.name
		}
	}
	return ""
}

func detectSource(text string) string {
	for _, s := range sourceSignatures {
		if s.re.MatchString(text) {
			return s.name
		}
	}
	return ""
}

func detectSide(text string) string {
	switch {
	case receiverSignals.MatchString(text):
		return SideReceiver
	case senderSignals.MatchString(text):
		return SideSender
	}
	return ""
}

func matchRule(text string) *rule {
	for i := range rules {
		if rules[i].re.MatchString(text) {
			return &rules[i]
		}
	}
	return nil
}
