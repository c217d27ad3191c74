package explain

import (
	"fmt"

	"github.com/mxlab/mxlab/tlsalert"
)

// Kinds of failure, the stable codes of Answer.Kind. Where RFC 8460 (SMTP
// TLS Reporting) §4.3 has a result type for the failure, the kind is that
// result type's name.
const (
	// KindTLSAlert is a TLS alert that ended the handshake; Answer.Alert says which.
	KindTLSAlert = "tls-alert"
	// KindHandshakeFailure is a handshake that failed without an alert the text names.
	KindHandshakeFailure = "handshake-failure"
	// KindNotTLS is a peer that did not speak TLS where TLS was expected.
	KindNotTLS = "not-tls"
	// KindStartTLSNotSupported is RFC 8460's starttls-not-supported: the receiver did not offer STARTTLS to a sender that requires it.
	KindStartTLSNotSupported = "starttls-not-supported"
	// KindStartTLSRefused is a receiver that advertised STARTTLS but answered it with an error (454).
	KindStartTLSRefused = "starttls-refused"
	// KindCertificateHostMismatch is RFC 8460's certificate-host-mismatch: the certificate does not name the host.
	KindCertificateHostMismatch = "certificate-host-mismatch"
	// KindCertificateExpired is RFC 8460's certificate-expired.
	KindCertificateExpired = "certificate-expired"
	// KindCertificateNotTrusted is RFC 8460's certificate-not-trusted: the chain does not lead to a trusted CA.
	KindCertificateNotTrusted = "certificate-not-trusted"
	// KindValidationFailure is RFC 8460's validation-failure: verification failed for a reason the text does not name.
	KindValidationFailure = "validation-failure"
	// KindTLSAInvalid is RFC 8460's tlsa-invalid: the certificate matches none of the DANE TLSA records.
	KindTLSAInvalid = "tlsa-invalid"
	// KindDNSSECInvalid is RFC 8460's dnssec-invalid: the DNSSEC answers for the MX or its TLSA records did not validate.
	KindDNSSECInvalid = "dnssec-invalid"
	// KindSTSPolicyInvalid is RFC 8460's sts-policy-invalid: the MX is not one the domain's MTA-STS policy lists.
	KindSTSPolicyInvalid = "sts-policy-invalid"
	// KindSTSWebPKIInvalid is RFC 8460's sts-webpki-invalid: the certificate fails the WebPKI checks MTA-STS demands.
	KindSTSWebPKIInvalid = "sts-webpki-invalid"
	// KindTLSRequired is a receiver that refused mail because it did not come over TLS (or over a TLS version it accepts): "451 5.7.3 STARTTLS is required to send mail".
	KindTLSRequired = "tls-required"
	// KindSenderPolicy is the sending MTA's own TLS policy failing before any connection: "client TLS configuration problem", "no TLSA records found".
	KindSenderPolicy = "sender-policy"
	// KindTLSALookupFailed is a TLSA lookup that failed (SERVFAIL, a timeout) in the sender's resolver or at the receiver's name servers.
	KindTLSALookupFailed = "tlsa-lookup-failed"
	// KindConnectionLost is result.ConnectionLost before TLS: the MX closed or reset the connection before its greeting or before STARTTLS completed, without a reply or a TLS alert.
	KindConnectionLost = "connection-lost"
	// KindConnectRefused is result.ConnectRefused: nothing listens at the MX's address (TCP RST to the SYN).
	KindConnectRefused = "connect-refused"
)

// Sides of the connection, the values of Answer.Side.
const (
	// SideSender is the sending MTA or client: bounces, delivery logs, client tools.
	SideSender = "sender"
	// SideReceiver is the receiving MTA: its server log.
	SideReceiver = "receiver"
)

// advice is what explain says about one kind of failure.
type advice struct {
	receiverDid string
	causes      []string
	scenario    string
	fix         string
}

// kindAdvice holds the advice per kind; KindTLSAlert's comes from
// alertAdvice instead.
var kindAdvice = map[string]advice{
	KindHandshakeFailure: {
		receiverDid: "The receiving server answered STARTTLS with 220, then the TLS handshake did not complete; the text names no alert, so the server most likely sent one the sender did not log, or closed the connection.",
		causes: []string{
			"the server sent a fatal alert the text does not name, most often 40 handshake_failure (STARTTLS on without a certificate, or no cipher in common) or 47 illegal_parameter (a GnuTLS server refusing the SNI)",
			"the server's TLS versions or cipher suites do not overlap with the sender's (an old server limited to TLS 1.0, or a hardened cipher list on either side)",
			"the server or something in front of it closed the connection during the handshake (a crashed TLS library, a firewall or IPS, or an MTU problem that loses the certificate flight)",
		},
		scenario: noScenario, // the text names no alert: candidates.yaml ranks the readings
		fix:      "Run openssl s_client -starttls smtp -connect <mx>:25 -servername <mx> against the MX, read the receiving server's log line for the same moment, and fix what it names (a certificate and key, the cipher list or TLS versions, an SNI rule).",
	},
	KindNotTLS: {
		receiverDid: "After STARTTLS the peer sent bytes that are not a TLS record (OpenSSL \"wrong version number\"), so the handshake never started.",
		causes: []string{
			"implicit TLS and STARTTLS mixed up: a client speaking TLS at once to a STARTTLS port (587, 25), or plaintext to an implicit-TLS port (465); in Postfix, smtp_tls_wrappermode not matching the relay's port",
			"a proxy, load balancer or SMTP-inspecting firewall that answers in plaintext instead of passing the handshake through",
			"the server answered the STARTTLS command with an error text the client then read as TLS",
		},
		scenario: noScenario,
		fix:      "Use STARTTLS on ports 25 and 587 and implicit TLS only on 465 (Postfix: smtp_tls_wrappermode = yes only for port 465), and remove any middlebox that rewrites SMTP.",
	},
	KindStartTLSNotSupported: {
		receiverDid: "The receiving server's EHLO reply did not list STARTTLS (or it refused the command), so a sender whose policy requires TLS for this destination gave up without sending the message.",
		causes: []string{
			"STARTTLS switched off on the receiver, for example sendmail's Srv_Features: S entry added to work around a failing TLS setup, or Postfix smtpd_tls_security_level = none",
			"TLS enabled without a usable certificate and key: sendmail and Postfix then stop offering STARTTLS",
			"a firewall with SMTP inspection (\"fixup\") that strips STARTTLS from the EHLO reply",
			"the sender requires TLS for this domain by policy (Postfix encrypt, verify or dane with TLSA records, MTA-STS enforce, a provider's TLS guarantee)",
		},
		scenario: "", // reproduces.yaml
		fix:      "Offer STARTTLS with a certificate for the MX name: sendmail needs confSERVER_CERT, confSERVER_KEY and confCACERT and no Srv_Features: S; Postfix needs smtpd_tls_security_level = may with smtpd_tls_cert_file and smtpd_tls_key_file; then check that no firewall rewrites EHLO.",
	},
	KindStartTLSRefused: {
		receiverDid: "The receiving server advertised STARTTLS but answered the command with an error (454: TLS not available), typically because its own TLS setup failed.",
		causes: []string{
			"the certificate or key file the server is configured with is missing, unreadable by the MTA's user, or does not match",
			"the server's TLS library could not start (a wrong cipher or protocol setting, an exhausted random source)",
			"a per-client policy on the receiver that refuses TLS to this sender",
		},
		scenario: "", // reproduces.yaml
		fix:      "Read the receiving MTA's log at startup and at the STARTTLS command: it names the file or setting; fix permissions or paths so the MTA user can read the certificate and key.",
	},
	KindCertificateHostMismatch: {
		receiverDid: "The receiving server completed the TLS handshake, but the certificate it presented does not name the host the sender verified it against, so the verifying sender gave up.",
		causes: []string{
			"the certificate is for another name than the MX host (mail.example.com on a certificate, mx.example.com in DNS), or the MX moved to a new name",
			"the server picks its certificate by SNI and sends a default one for the name the sender asked for",
			"a self-signed or appliance default certificate that names the machine, not the MX",
		},
		scenario: "", // reproduces.yaml
		fix:      "Get a certificate whose subject alternative names include the MX host name (or point the MX at a name the certificate covers), and serve it for that SNI.",
	},
	KindCertificateExpired: {
		receiverDid: "The receiving server completed the TLS handshake with a certificate whose validity period has ended, so the verifying sender gave up.",
		causes: []string{
			"automatic renewal stopped (certbot's timer, a failing ACME challenge) or renewed the file but the MTA was never reloaded",
			"an expired intermediate certificate still served in the chain",
			"a wrong clock on the sending or receiving host",
		},
		scenario: "", // reproduces.yaml
		fix:      "Renew the certificate, serve the current intermediate chain, and reload the MTA after each renewal (a certbot deploy hook that runs postfix reload or systemctl reload exim4).",
	},
	KindCertificateNotTrusted: {
		receiverDid: "The receiving server completed the TLS handshake, but its certificate does not chain to a CA the sender trusts, so a verifying sender gave up (an opportunistic one delivers anyway).",
		causes: []string{
			"the certificate is self-signed: the snakeoil certificate a package created, or Exim's certificate generated on the fly",
			"the server sends its leaf certificate without the intermediate CA certificates (an incomplete chain)",
			"the certificate comes from a private or internal CA the sender does not know",
		},
		scenario: "", // reproduces.yaml
		fix:      "Install a CA-signed certificate for the MX name (ACME, e.g. Let's Encrypt) and serve the full chain, leaf first; or publish a DANE-EE (3 1 1) TLSA record for the key in a DNSSEC-signed zone.",
	},
	KindValidationFailure: {
		receiverDid: "The receiving server completed the TLS handshake, but the sender's check of its certificate failed, so the sender deferred the message (Postfix at dane, verify or secure says QUIT without sending it).",
		causes: []string{
			"DANE: the certificate or key matches none of the TLSA records published for the MX, most often after a renewal with a new key (Postfix logs num=65:no matching DANE TLSA records just before)",
			"the certificate does not name the MX host the sender matched against (Postfix verify or secure levels)",
			"the chain does not lead to a CA the sender trusts",
		},
		scenario: noScenario, // the text does not say which check failed: candidates.yaml ranks them
		fix:      "Run posttls-finger -t30 -T180 -c -l dane <domain> (or -l verify) from the sender to see which check fails; for DANE publish TLSA records for the key in use before deploying a new one (RFC 7671 §8.1), or keep the key across renewals (certbot --reuse-key).",
	},
	KindTLSAInvalid: {
		receiverDid: "The receiving server completed the TLS handshake, but its certificate matched none of the DANE TLSA records its domain publishes, so the DANE-validating sender said QUIT (or reset the connection) without sending the message.",
		causes: []string{
			"the certificate was renewed with a new key but the TLSA record still describes the old one (certbot without --reuse-key, Mail-in-a-Box, any automated renewal)",
			"the TLSA record is published for the wrong name or port (it must be _25._tcp.<MX host name>, and _PORT._tcp for another port)",
			"a 2 x x record names a CA certificate that is no longer in the chain the server sends",
		},
		scenario: "", // reproduces.yaml
		fix:      "Publish the TLSA record for the new key before deploying it and remove the old one afterwards (RFC 7671 §8.1), use a 2 1 1 record for the issuing CA, or keep the key across renewals (certbot --reuse-key).",
	},
	KindDNSSECInvalid: {
		receiverDid: "The sender could not get DNSSEC-validated answers for the MX host or its TLSA records, so a DANE sender deferred the message before or instead of connecting.",
		causes: []string{
			"expired DNSSEC signatures (the signer stopped re-signing the zone)",
			"a DS record at the parent that does not match the zone's keys after a key rollover or a move to another DNS provider",
			"authoritative servers that answer TLSA queries badly (wrong NSEC/NSEC3 denial, a record changed after signing)",
		},
		scenario: "", // reproduces.yaml: dnssec-bogus
		fix:      "Check the zone with a DNSSEC debugger (dnsviz.net), fix signing or the DS record at the registrar, and make sure TLSA queries for _25._tcp.<mx> get a signed answer or a signed denial.",
	},
	KindTLSRequired: {
		receiverDid: "The receiving server refused the message because it did not arrive over TLS (or over a TLS version it accepts): it requires encryption of its senders, and this attempt came in plaintext.",
		causes: []string{
			"the sending MTA or application has TLS switched off (Postfix smtp_tls_security_level = none, an application without STARTTLS enabled)",
			"the sender tried STARTTLS, the handshake failed, and it went on in plaintext (Exchange, many applications and opportunistic MTAs fall back this way); the receiver then refuses the plaintext attempt",
			"the sender offers only TLS 1.0 or 1.1 and the receiver requires 1.2 or later (Microsoft 365: 421 4.7.66)",
		},
		scenario: "", // reproduces.yaml (a plaintext refusal); tlsVersionRequired sets none
		fix:      "Enable STARTTLS on the sending side (Postfix: smtp_tls_security_level = may or stronger; an application: its STARTTLS or \"TLS\" switch) with TLS 1.2 or later; if STARTTLS fails, the sender's TLS log says why.",
	},
	KindSenderPolicy: {
		receiverDid: "Nothing: the sending MTA's own TLS policy failed before it connected to the receiver (relay=none), so the message was deferred on the sending side.",
		causes: []string{
			"a TLS policy table or policy service the sender consults failed (a socketmap or SQL lookup error, an attribute Postfix does not know, such as servername from an old MTA-STS resolver)",
			"the policy says dane-only (or DANE is enforced) and the sender found no usable TLSA records for the MX",
			"a TLS setting of the sending MTA is invalid (a missing CA file, a certificate or key that cannot be read)",
		},
		scenario: noScenario,
		fix:      "Read the warning lines the sending MTA logs just before the deferral (Postfix: \"TLS policy lookup for ...\", \"smtp_tls_policy_maps, next-hop destination ...\"): they name the table, service or setting; fix it and run postfix flush.",
	},
	KindTLSALookupFailed: {
		receiverDid: "Nothing yet: the sender looked up the TLSA records of the MX before connecting, the lookup failed (SERVFAIL or no answer), and a DANE sender defers rather than deliver without knowing whether DANE applies.",
		causes: []string{
			"the sender's own resolver or a DNS filter in front of it fails TLSA queries or their DNSSEC denial of existence",
			"the receiving domain's name servers answer TLSA queries badly (no answer, a broken NSEC/NSEC3 denial, expired signatures)",
		},
		scenario: noScenario,
		fix:      "Query the name from another validating resolver (delv @9.9.9.9 _25._tcp.<mx> TLSA): if it gets an authenticated answer or denial, fix or replace the sender's resolver; if not, the receiving domain must fix its DNS (check it on dnsviz.net).",
	},
	KindConnectionLost: {
		receiverDid: "The receiving side accepted the TCP connection and then closed or reset it without a word of SMTP or TLS: no greeting, no reply, no alert.",
		causes: []string{
			"the MX name resolves to an address where nothing speaks SMTP: a web proxy or CDN in front of the mail host (a proxied DNS record), a load balancer without a mail backend",
			"the mail server refuses this client before greeting it (a connection limit, a block list checked at connect, postscreen or a firewall that resets)",
			"a firewall or SMTP-inspecting middlebox on the path that drops the connection",
		},
		scenario: noScenario, // the phase decides: reproduces.yaml phases
		fix:      "Connect from the sender's network (telnet <mx> 25 or swaks --server <mx> --quit-after CONNECT): no \"220\" greeting means the MX address is wrong or something in front of it is not a mail server; make the MX's A/AAAA record point at the mail server (DNS only, not proxied).",
	},
	KindConnectRefused: {
		receiverDid: "Nothing: nothing listens on port 25 at the MX's address, so the connection was refused (TCP RST) before any SMTP or TLS.",
		causes: []string{
			"the mail server is down or listens on another address or port",
			"a firewall in front of the MX rejects connections to port 25",
			"the MX record or its A/AAAA record points at the wrong host",
		},
		scenario: noScenario,
		fix:      "Check that the MX name resolves to the mail server and that it listens on port 25 (ss -ltn on the server, nc -vz <mx> 25 from outside).",
	},
	KindSTSPolicyInvalid: {
		receiverDid: "The MX the sender reached is not one the domain's MTA-STS policy lists, so a sender enforcing that policy refused to deliver there.",
		causes: []string{
			"the MX records changed but the policy file's mx: lines did not",
			"the policy at https://mta-sts.<domain>/.well-known/mta-sts.txt is unreachable or malformed and a cached policy no longer fits",
		},
		scenario: noScenario,
		fix:      "Update the mx: lines of the MTA-STS policy to match the MX records and change the id in the _mta-sts TXT record so senders fetch it again.",
	},
	KindSTSWebPKIInvalid: {
		receiverDid: "The MX presented a certificate that fails the checks MTA-STS requires (a trusted CA and the MX host name), so a sender enforcing the policy refused to deliver.",
		causes: []string{
			"a self-signed or private-CA certificate on an MX under an MTA-STS enforce policy",
			"a certificate that does not name the MX host listed in the policy",
			"an expired certificate",
		},
		scenario: "", // reproduces.yaml
		fix:      "Serve a publicly trusted certificate that names each MX host of the policy, or set the policy to mode: testing until it does.",
	},
}

// alertInfo is what an alert means when the receiving server sends it
// (the usual case) and when the sending client sends it to the receiver.
type alertInfo struct {
	server advice // receiverDid holds the meaning, completed by alertReceiverDid
	client advice
}

// alertAdvice holds what explain knows per alert. The meanings follow RFC
// 8446 §6.2 and RFC 5246 §7.2.2; the causes are the ones seen in mail.
var alertAdvice = map[tlsalert.Description]alertInfo{
	tlsalert.HandshakeFailure: {
		server: advice{
			receiverDid: "it found no cipher suite, certificate or parameters it could use with the sender's offer",
			causes: []string{
				"STARTTLS is on but the server has no certificate and key, so only anonymous suites could work and the sender offers none (sendmail without confSERVER_CERT; OpenSSL logs \"no shared cipher\")",
				"the server's cipher list or minimum TLS version excludes everything the sender offers (a hardened list on one side, an old TLS stack on the other)",
				"the server holds only an ECDSA certificate and the sender offers only RSA suites, or the other way round",
				"the server requires a client certificate (TLS 1.2 servers report that with handshake_failure)",
			},
			scenario: "", // reproduces.yaml
			fix:      "Give the receiving server a certificate and key for its host name and keep its TLS library's default cipher list (sendmail: confSERVER_CERT and confSERVER_KEY; Postfix: smtpd_tls_cert_file and smtpd_tls_key_file; Exim: tls_certificate and tls_privatekey); a sender whose TLS stack offers only obsolete suites must be upgraded.",
		},
	},
	tlsalert.IllegalParameter: {
		server: advice{
			receiverDid: "it refused a value in the ClientHello, most often the server name (SNI) the sender asked for",
			causes: []string{
				"the receiving MTA uses GnuTLS (Exim on Debian and Ubuntu) and the MX host name the sender put in SNI contains '_' or another character outside [A-Za-z0-9.-], such as a DNS provider's generated _dc-mx.<hex>.<domain> name; senders that send no SNI (Postfix, most MTAs) never notice",
				"a TLS-terminating proxy or appliance in front of the MX that rejects an extension or key share the sender offers",
				"an old server TLS library that rejects a parameter newer clients send",
			},
			scenario: "", // reproduces.yaml
			fix:      "Point the MX at a host name made of letters, digits, '-' and '.' only (do not let the DNS provider proxy or rewrite mail hosts), or run the receiving MTA with an OpenSSL-based TLS library, which accepts such names; GnuTLS has no switch for it.",
		},
	},
	tlsalert.ProtocolVersion: {
		server: advice{
			receiverDid: "none of the TLS versions the sender offered is one it accepts",
			causes: []string{
				"the versions do not overlap: a server limited to TLS 1.0 or 1.1 and a sender that requires 1.2 or later, or a server that requires 1.2 or later and an old sender",
				"an OpenSSL server without a certificate, which negotiates no TLS 1.3, meeting a client that offers only TLS 1.3",
			},
			scenario: noScenario,
			fix:      "Enable TLS 1.2 and 1.3 on the receiving server (Postfix: smtpd_tls_protocols = >=TLSv1.2 is fine, but no upper bound); a sender that offers only TLS 1.0 or 1.1 must be upgraded.",
		},
		client: advice{
			receiverDid: "the sending client refused the TLS version your server chose",
			causes: []string{
				"your server negotiated TLS 1.0 or 1.1 and the client requires TLS 1.2 or later",
			},
			scenario: "", // reproduces.yaml client_alerts
			fix:      "Enable TLS 1.2 and 1.3 on the receiving server.",
		},
	},
	tlsalert.DecodeError: {
		server: advice{
			receiverDid: "it could not parse the sender's ClientHello",
			causes: []string{
				"a malformed or empty server_name (SNI) extension",
				"a ClientHello too large or too new for the server's TLS stack (post-quantum key shares, unknown extensions) or cut by a middlebox",
				"a middlebox that corrupts or truncates the handshake",
			},
			scenario: noScenario,
			fix:      "Update the receiving server's TLS library and remove middleboxes that inspect SMTP; capture the handshake (tcpdump) to see which message the server rejects.",
		},
	},
	tlsalert.UnexpectedMessage: {
		server: advice{
			receiverDid: "it received a message it did not expect at that point of the handshake",
			causes: []string{
				"the client sent plaintext SMTP after \"220 Ready to start TLS\" (or TLS where plaintext was expected): a STARTTLS and implicit-TLS mix-up",
				"a middlebox that injects or reorders data during the handshake",
			},
			scenario: noScenario,
			fix:      "Make the client start the TLS handshake right after the 220 reply to STARTTLS, and remove any SMTP-inspecting middlebox.",
		},
	},
	tlsalert.UnrecognizedName: {
		server: advice{
			receiverDid: "it does not serve the host name the sender put in SNI (or it requires a name the sender did not send)",
			causes: []string{
				"the server selects certificates by SNI and has none for the MX name the sender asked for",
				"a server or proxy that requires SNI and a sender that sends none",
			},
			scenario: noScenario,
			fix:      "Configure a certificate (and a default one) for the MX host name on the receiving server or proxy.",
		},
	},
	tlsalert.InsufficientSecurity: {
		server: advice{
			receiverDid: "it requires stronger cipher suites or parameters than the sender offered",
			causes:      []string{"a receiving server configured to accept only strong suites or large keys, and a sender with an old TLS stack"},
			scenario:    noScenario,
			fix:         "Upgrade the sender's TLS library, or relax the receiver's mandatory cipher settings for port 25.",
		},
	},
	tlsalert.InternalError: {
		server: advice{
			receiverDid: "its TLS library failed internally",
			causes:      []string{"a server-side fault: the key cannot be used (wrong permissions, a hardware module down), memory or entropy exhausted, a bug in the TLS library"},
			scenario:    noScenario,
			fix:         "Read the receiving server's log for the same moment and update or repair its TLS setup.",
		},
	},
	tlsalert.CertificateRequired: {
		server: advice{
			receiverDid: "it requires a client certificate and the sender sent none",
			causes:      []string{"a receiver (often a smart host or partner connector) that authenticates senders by client certificate"},
			scenario:    noScenario,
			fix:         "Configure the sending MTA with the client certificate the receiver expects (Postfix: smtp_tls_cert_file and smtp_tls_key_file), or drop the requirement on the receiver.",
		},
	},
}

// certificateRejected is what it means when the client rejects the
// receiver's certificate with a certificate alert (RFC 8446 §6.2).
var certificateRejected = advice{
	receiverDid: "the sending client does not accept the certificate your server presented",
	causes: []string{
		"the certificate is self-signed (a package's snakeoil certificate, or one Exim generated on the fly)",
		"the server sends only its leaf certificate without the intermediate CA certificates (an incomplete chain)",
		"the certificate is expired or does not name the host the client connected to",
		"the client verifies strictly: a submission client, an MTA-STS or DANE sender, a TLS checker",
	},
	scenario: "", // reproduces.yaml
	fix:      "Install a CA-signed certificate for the host name with its full chain, leaf first (Postfix: smtpd_tls_chain_files or a fullchain.pem in smtpd_tls_cert_file).",
}

// clientCertificateRejected is what a certificate alert from the receiving
// server means: it rejected the client certificate the sender presented.
var clientCertificateRejected = advice{
	receiverDid: "it does not accept the client certificate the sender presented",
	causes: []string{
		"the receiving server verifies client certificates and the sender's is self-signed, expired or from a CA it does not trust",
		"the sender presents a certificate by default (Postfix smtp_tls_cert_file set) to a server that checks it",
	},
	scenario: noScenario,
	fix:      "Stop presenting a client certificate to this destination (Postfix: leave smtp_tls_cert_file empty), or present one the receiver trusts.",
}

func isCertificateAlert(d tlsalert.Description) bool {
	switch d {
	case tlsalert.BadCertificate, tlsalert.UnsupportedCertificate, tlsalert.CertificateRevoked,
		tlsalert.CertificateExpired, tlsalert.CertificateUnknown, tlsalert.UnknownCA:
		return true
	}
	return false
}

// alertAdviceFor returns the advice for an alert sent by the receiving
// server (byServer) or by the sending client.
func alertAdviceFor(d tlsalert.Description, byServer bool) advice {
	info, ok := alertAdvice[d]
	switch {
	case byServer && ok && info.server.receiverDid != "":
		return info.server
	case !byServer && ok && info.client.receiverDid != "":
		return info.client
	case isCertificateAlert(d) && byServer:
		return clientCertificateRejected
	case isCertificateAlert(d):
		a := certificateRejected
		if d == tlsalert.CertificateExpired {
			a.causes = append([]string{"the certificate has expired"}, a.causes...)
			a.scenario = noScenario
		}
		return a
	case byServer:
		return advice{
			receiverDid: "it refused the handshake",
			causes:      []string{fmt.Sprintf("the receiving server's TLS library rejected the sender's handshake; its log for the same moment names the reason for alert %d", uint8(d))},
			scenario:    noScenario,
			fix:         "Read the receiving server's TLS log for the same moment and fix what it names.",
		}
	}
	return advice{
		receiverDid: "the sending client aborted the handshake",
		causes:      []string{fmt.Sprintf("the sending client's TLS library rejected your server's part of the handshake with alert %d; the client's log names the reason", uint8(d))},
		scenario:    noScenario,
		fix:         "Ask the sender for their TLS log line, or reproduce with openssl s_client against your server.",
	}
}

// alertReceiverDid says, in one sentence, what the receiving side did
// about an alert.
func alertReceiverDid(d tlsalert.Description, byServer, writerIsReceiver bool, meaning string) string {
	a := tlsalert.Alert{Level: tlsalert.Fatal, Description: d}
	switch {
	case byServer && writerIsReceiver:
		return fmt.Sprintf("Your server (the receiver) ended the handshake with %s right after the ClientHello and closed the connection: %s.", a, meaning)
	case byServer:
		return fmt.Sprintf("The receiving server answered the sender's ClientHello with %s and closed the connection: %s.", a, meaning)
	case writerIsReceiver:
		return fmt.Sprintf("Your server (the receiver) took part in the handshake, then the sending client sent %s and closed the connection: %s.", a, meaning)
	}
	return fmt.Sprintf("The receiving server took part in the handshake, then the sending client sent %s and gave up: %s.", a, meaning)
}
