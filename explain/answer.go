package explain

import (
	"slices"
	"strings"

	"github.com/mxlab/mxlab/tlsalert"
)

// Unknown is what explain says about a text that carries no TLS delivery
// failure it knows (Answer.Known false).
const Unknown = "not a TLS delivery failure I know"

// Answer is what explain says about one message.
type Answer struct {
	// Known is false for "not a TLS delivery failure I know"; the other fields are then empty.
	Known bool `json:"known"`
	// Kind is the failure's stable code, one of the Kind* constants (RFC 8460 result type names where one fits).
	Kind string `json:"kind"`
	// Alert is the TLS alert the text encodes or implies, with its number and registry name.
	Alert *tlsalert.JSON `json:"alert"`
	// Source is who wrote the text: gmail, outlook, postfix, exim, sendmail, swaks, gnutls, stalwart, haraka, or the TLS library (openssl-3, openssl-1.1, openssl-1.0, boringssl, go, rustls, java, erlang).
	Source string `json:"source,omitempty"`
	// Side is SideSender when the text comes from the sending side (a bounce, a delivery log, a client tool) and SideReceiver when it is the receiving server's log.
	Side string `json:"side"`
	// ReceiverDid says in one sentence what the receiving side did.
	ReceiverDid string `json:"receiver_did,omitempty"`
	// Causes are the usual causes, most likely first.
	Causes []string `json:"causes,omitempty"`
	// Scenario is the mxlab scenario that reproduces the failure, "" when
	// none of the lab's scenarios fits or the text does not decide between
	// candidates.
	Scenario string `json:"scenario"`
	// Reproduce is the command that reproduces it against a running lab, "" without a scenario.
	Reproduce string `json:"reproduce,omitempty"`
	// Fix says how the failure is repaired, and on which side.
	Fix string `json:"fix,omitempty"`
	// Candidates are the readings of the text, most likely first, each
	// with its scenario ("" for none of the lab's) and what tells it apart;
	// the first is Scenario's when the text decides one.
	Candidates []Candidate `json:"candidates,omitempty"`

	// sideGuessed: nothing in the text said which side wrote it, and Side
	// is the default; an alert then has two readings (candidates.go).
	sideGuessed bool
	// reason is the TLS library's reason that decided the advice of a
	// handshake failure without an alert (dh key too small, a timeout).
	reason string
	// detail narrows the kind for candidates.yaml ("<kind>/<detail>"):
	// what the text says about a certificate, or the alert's name.
	detail string
}

// Explain explains one pasted text: a bounce's diagnostic, a log line or a
// few, possibly wrapped over several lines, quoted with "> ", or carrying
// quoted-printable soft line breaks.
func Explain(text string) Answer {
	var best Answer
	bestScore := -1
	for _, v := range variants(text) {
		a := analyze(v)
		if s := a.score(); s > bestScore {
			best, bestScore = a, s
		}
	}
	return best
}

// score ranks answers from different forms of one text: a known failure
// beats an unknown one, a decoded alert and a specific kind say more.
func (a Answer) score() int {
	if !a.Known {
		return 0
	}
	s := 100
	if a.Alert != nil {
		s += 10
	}
	if a.Kind != KindHandshakeFailure && a.Kind != KindValidationFailure {
		s += 5
	}
	return s
}

// tlsWords are words one of which every text explain knows contains; a
// text without any is not read further.
var tlsWords = []string{"tls", "ssl", "certificate", "cipher", "handshake", "alert", "dane", "4.7.32", "4.4.317", "mta-sts"}

// analyze explains one normalised form of a text.
func analyze(text string) Answer {
	lower := strings.ToLower(text)
	has := func(w string) bool { return strings.Contains(lower, w) }
	if !slices.ContainsFunc(tlsWords, has) && !slices.ContainsFunc(connectionWords, has) {
		return Answer{}
	}
	f := decodeLibrary(text)
	conn := decodeConnection(text)
	r := matchRule(text)
	source, side := detectSource(text), detectSide(text)
	if r != nil && r.source != "" {
		source = r.source
	}
	if r != nil && r.side != "" {
		side = r.side
	}
	if source == "" {
		source = f.library
	}
	if source == "" {
		source = "unknown"
	}
	sideGuessed := side == ""
	if side == "" {
		side = SideSender
	}

	// The kind: a specific rule decides; a decoded alert or library
	// reason says more than a generic rule; a generic rule is the last
	// resort.
	kind, ruleDecides := "", false
	switch {
	case r != nil && r.kind != "" && !r.generic:
		kind, ruleDecides = r.kind, true
	case receiverRequiresTLS(text):
		// A receiver's reply that says it takes mail only over TLS
		// (reply.go) says more than the generic "could not deliver"
		// around it: Microsoft 365's 4.4.317 quoting "451 5.7.3 STARTTLS
		// is required to send mail".
		kind = KindTLSRequired
	case startTLSRefused(text):
		// A reply that refuses STARTTLS itself (reply.go) says more than
		// the client's generic "could not start TLS" around it.
		kind = KindStartTLSRefused
	case f.hasAlert:
		kind = KindTLSAlert
	case reasonKind(f) != "":
		kind = reasonKind(f)
	case conn.kind != "":
		// Lost before any TLS: Postfix's "lost connection with ... while
		// receiving the initial server greeting" (connection.go).
		kind = conn.kind
	case r != nil && r.kind != "":
		kind, ruleDecides = r.kind, true
	}
	if kind == "" {
		return Answer{}
	}

	a := Answer{Known: true, Kind: kind, Source: source, Side: side, sideGuessed: sideGuessed}
	var adv advice
	// Who sent an alert: the receiving server, unless the text is the
	// receiver's own log of an alert it read from the client, or the
	// sender's log of one it sent.
	byServer := (f.dir == dirSent) == (side == SideReceiver)
	if f.dir == dirUnknown {
		byServer = true
	}
	if kind == KindTLSAlert {
		if byServer && side == SideSender {
			// The sender read the server's alert: candidates.yaml may say
			// more per alert (tls-alert/protocol_version).
			a.detail = f.alert.String()
		}
		adv = alertAdviceFor(f.alert, byServer)
		adv.receiverDid = alertReceiverDid(f.alert, byServer, side == SideReceiver, adv.receiverDid)
		a.Alert = tlsalert.Alert{Level: tlsalert.Fatal, Description: f.alert}.JSON()
	} else {
		adv = kindAdvice[kind]
		if kind == KindHandshakeFailure && side == SideReceiver {
			adv = receiverHandshake
		}
		if ra, ok := reasonAdvice[f.reason]; ok && kind == KindHandshakeFailure {
			adv = ra
			a.reason = f.reason
		}
	}
	if ruleDecides {
		if r.receiverDid != "" {
			adv.receiverDid = r.receiverDid
		}
		if len(r.causes) > 0 {
			adv.causes = r.causes
		}
		if r.fix != "" {
			adv.fix = r.fix
		}
	}
	// The scenario: the advice's noScenario says none fits; else
	// reproduces.yaml names one for the kind or the alert, or for the rule
	// that decided.
	if adv.scenario == "" {
		adv.scenario = scenarioFor(kind, f.alert, byServer)
	}
	if ruleDecides {
		if s, ok := reproducesData().Rules[r.name]; ok {
			adv.scenario = s
		} else if r.scenario != "" {
			adv.scenario = r.scenario
		}
	}
	switch kind {
	case KindCertificateNotTrusted:
		ev := certificateEvidence(text)
		adv = certificateAdvice(adv, ev)
		a.detail = ev
		if ev == certUnknown {
			a.detail = f.verify
		}
	case KindTLSRequired:
		if tlsVersionRequired.MatchString(text) {
			adv.scenario = noScenario
		}
	case KindConnectionLost:
		if s, ok := reproducesData().Phases[conn.phase]; ok && conn.kind == kind {
			adv.scenario = s
		}
		if conn.phase == phaseGreeting && conn.kind == kind {
			adv.receiverDid = "The receiving side accepted the TCP connection and closed it before sending any greeting: whatever answers at the MX's address does not speak SMTP, or refuses this client before saying hello."
		}
	case KindHandshakeFailure:
		// A library reason the sending side logged during the handshake
		// (the server closed the connection after "220 Ready to start
		// TLS"), when the text says it is the sender's log: in the
		// receiver's log the same words mean the client hung up.
		if s, ok := reproducesData().Reasons[a.reason]; ok && side == SideSender && !sideGuessed {
			adv.scenario = s
		}
	}
	a.ReceiverDid = adv.receiverDid
	a.Causes = slices.Clone(adv.causes)
	a.Fix = adv.fix
	if adv.scenario != noScenario {
		a.Scenario = adv.scenario
	}
	a.finish(detectPeer(text))
	return a
}

// finish fills in what follows from the rest: the scenario only if the
// catalogue has it, the command that reproduces it, and the candidates.
func (a *Answer) finish(peer string) {
	if !isLabScenario(a.Scenario) {
		a.Scenario = ""
	}
	a.Reproduce = reproduceCommand(a.Scenario, a.Source, a.Side, peer, a.Kind)
	a.Candidates = candidates(*a, peer)
}

// certificateAdvice decides whether a certificate the sender did not
// trust is the receiver's fault a scenario reproduces: only when the text
// says the certificate is self-signed (self-signed) or names an issuer
// that is no public CA (untrusted-root), as reproduces.yaml's
// certificates say. An issuer that is a public CA puts the fault on
// the sender's CA list (bokysan/docker-postfix #51: "untrusted issuer
// /OU=GlobalSign Root CA - R2/..." from a Postfix without smtp_tls_CAfile),
// or on an intermediate the server did not send; a text that names
// neither leaves the readings open (candidates.yaml).
func certificateAdvice(adv advice, evidence string) advice {
	switch evidence {
	case certSelfSigned, certPrivateCA:
		adv.scenario = reproducesData().Certificates[evidence]
		return adv
	case certPublicCA:
		adv.scenario = noScenario
		adv.receiverDid = "The receiving server completed the TLS handshake with a certificate from a public CA, but the sender could not verify it: the sender's own list of trusted CAs is missing or out of date."
		adv.causes = append([]string{"the sender has no CA list or an outdated one (Postfix: smtp_tls_CAfile or smtp_tls_CApath unset, or not readable in its chroot; sendmail: confCACERT_PATH; a container image without ca-certificates)"}, adv.causes...)
		adv.fix = "On the sending side, point the MTA at the system's CA bundle (Postfix: smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt; sendmail: confCACERT_PATH /etc/ssl/certs) and keep ca-certificates up to date; the receiver has nothing to fix."
	default:
		adv.scenario = noScenario
	}
	return adv
}

// reasonKind maps a library reason that is not an alert to a kind.
func reasonKind(f finding) string {
	switch f.reason {
	case reasonWrongVersion:
		return KindNotTLS
	case reasonVerifyFailed:
		switch f.verify {
		case verifyExpired:
			return KindCertificateExpired
		case verifySelfSigned, verifyChainRoot, verifyIssuerUnknown, verifyUnknownAuthority:
			return KindCertificateNotTrusted
		case verifyHostname:
			return KindCertificateHostMismatch
		}
		return KindValidationFailure
	case reasonBadSignature, reasonUnexpectedEOF, reasonDHKeyTooSmall, reasonTimeout, reasonNoProtocols:
		return KindHandshakeFailure
	}
	return ""
}

// receiverHandshake is a handshake failure seen in the receiver's own log
// without an alert: "lost connection after STARTTLS from client[ip]".
var receiverHandshake = advice{
	receiverDid: "Your server (the receiver) answered STARTTLS with 220, then the handshake with the sending client failed and the connection ended; the log line names no alert.",
	causes: []string{
		"the client rejected your certificate and hung up without a descriptive alert (self-signed, incomplete chain, wrong name)",
		"no cipher suite or TLS version in common with an old or unusual client",
		"the client, a scanner or a middlebox dropped the connection during the handshake",
	},
	scenario: noScenario,
	fix:      "Raise the TLS log level (Postfix: smtpd_tls_loglevel = 2) to see the client's alert or the library's reason, then fix the certificate chain or the protocol and cipher settings it names.",
}

// reasonAdvice holds the advice for library reasons that are not alerts.
var reasonAdvice = map[string]advice{
	reasonNoProtocols: {
		receiverDid: "The handshake never started: the TLS library of the side that wrote the text found no protocol version it may use, before any ClientHello or ServerHello was exchanged.",
		causes: []string{
			"its TLS versions are limited to TLS 1.0 and 1.1 (Postfix smtpd_tls_protocols or smtp_tls_protocols, an old appliance profile) while OpenSSL 3's security level (Debian's default SECLEVEL=2) forbids both",
			"a minimum version above the maximum (MinProtocol = TLSv1.3 with a cap at TLSv1.2)",
		},
		scenario: noScenario,
		fix:      "Allow TLS 1.2 and 1.3 in the writer's TLS settings (Postfix: smtpd_tls_protocols = >=TLSv1.2, smtp_tls_protocols likewise; OpenSSL: MinProtocol = TLSv1.2 and no MaxProtocol below it).",
	},
	reasonBadSignature: {
		receiverDid: "The receiving server completed its part of the handshake, but the signature it made with its private key did not verify, so the sender aborted.",
		causes: []string{
			"the server's private key does not belong to the certificate it presents (a certificate replaced without its key)",
			"a broken RSA-PSS implementation in the server's TLS library or hardware module",
			"a TLS-inspecting middlebox that re-signs the handshake badly",
		},
		scenario: noScenario,
		fix:      "Install a certificate and key that belong together (compare openssl x509 -noout -pubkey and openssl pkey -pubout) and update the server's TLS library.",
	},
	// OpenSSL's SSL_R_DH_KEY_TOO_SMALL on the client: the server chose a
	// DHE suite with parameters under the client's minimum (1024 bits and
	// less since OpenSSL 1.1.0 at security level 1; postalserver/postal
	// #943 and #990 quote it for MX hosts).
	reasonDHKeyTooSmall: {
		receiverDid: "The receiving server chose a DHE cipher suite with Diffie-Hellman parameters (a prime of 1024 bits or fewer) that the sender's TLS library refuses as too weak, so the sender aborted the handshake.",
		causes: []string{
			"the receiving server is configured with old 512- or 1024-bit DH parameters (Postfix smtpd_tls_dh1024_param_file, a dhparams.pem from years ago, an old appliance)",
			"the sender's OpenSSL raised its minimum (OpenSSL 1.1.0 and later, or a distribution's higher security level) while the receiver stayed the same",
		},
		scenario: noScenario,
		fix:      "On the receiving server, generate 2048-bit DH parameters (openssl dhparam -out dh2048.pem 2048) or prefer ECDHE suites; a sender cannot fix it except by lowering its security level for that destination.",
	},
	reasonTimeout: {
		receiverDid: "The TLS handshake started after STARTTLS but did not finish before one side's timer ran out; no alert was exchanged.",
		causes: []string{
			"the two sides share no cipher suite or version and one of them waits instead of sending an alert (Haraka's tls plugin logs \"[tls] timeout\" then)",
			"packets lost on the path: an MTU or firewall problem that drops the large certificate flight",
			"an overloaded or stalled peer (entropy, a hardware key module, a slow OCSP or CRL check)",
		},
		scenario: noScenario,
		fix:      "Capture the handshake (tcpdump -w) to see which message is the last one sent, and compare the cipher and version settings of both sides (openssl s_client -starttls smtp -connect <host>:25 -cipher <suite>).",
	},
	reasonUnexpectedEOF: {
		receiverDid: "The peer closed (or reset) the TCP connection in the middle of the TLS exchange without a TLS alert or close_notify.",
		causes: []string{
			"read by the sender: the receiving server accepted STARTTLS with 220 and then hung up instead of answering the ClientHello, typically because it has no usable certificate (Stalwart without one did this, stalwartlabs/stalwart #135) or its TLS library failed",
			"the peer aborted the handshake without an alert (a client that rejects the certificate silently, a scanner, a timeout)",
			"a firewall or load balancer that cut the connection",
			"after a completed delivery, a peer that skips close_notify (harmless; OpenSSL 3 logs it as unexpected eof)",
		},
		scenario: noScenario,
		fix:      "If mail is delivered, ignore it; otherwise capture the handshake (tcpdump -w) to see which side closed and when.",
	},
}
