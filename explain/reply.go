package explain

import (
	"regexp"
	"strings"
)

// SMTP replies quoted in a text: the three-digit code (RFC 5321 §4.2) and
// the enhanced status code (RFC 3463), as "550 5.7.1 ...", or, in a
// multi-line reply, "421-4.7.29 ..." on every line.
var (
	replyCode      = regexp.MustCompile(`\b([45][0-5]\d)[ -]`)
	enhancedStatus = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	// continuation is the code a multi-line reply repeats on every line
	// ("421-4.7.29 "); pasted on one line it splits sentences in two.
	continuation = regexp.MustCompile(`\b[245]\d\d-(?:[245]\.\d{1,3}\.\d{1,3}\s+)?`)
)

// reply is what a text says about the SMTP reply that ended the attempt.
type reply struct {
	// failed: a 4xx or 5xx reply code or a 4.x.x/5.x.x status is quoted.
	failed bool
	// security: an enhanced status of class 7, "security or policy
	// status" (RFC 3463 §3.8).
	security bool
}

func decodeReply(text string) reply {
	var r reply
	if replyCode.MatchString(text) {
		r.failed = true
	}
	for _, m := range enhancedStatus.FindAllStringSubmatch(text, -1) {
		if m[1] != "2" {
			r.failed = true
		}
		if m[1] != "2" && m[2] == "7" {
			r.security = true
		}
	}
	return r
}

// tlsRequiredWords are what receivers say when they refuse mail that did
// not come over TLS, or over a TLS version they accept: "451 5.7.3
// STARTTLS is required to send mail" (Exchange), "550 5.7.1 TLS required
// by recipient" (Amazon SES), "503 Bad sequence of commands (TLS
// required)" (AOL), "451 STARTTLS is required for this sender" (Postini),
// Gmail's "421-4.7.29 ... wasn't sent over a TLS connection", Microsoft
// 365's "421 4.7.66 TLS 1.0 and 1.1 are not supported" (threads cited in
// explain/testdata/corpus.yaml). The words alone are not enough: a reply
// code must come with them (decodeReply), which keeps out Postfix's own
// "TLS is required, but was not offered by host" (a sender's policy).
var tlsRequiredWords = re(`\b(?:STARTTLS|TLS|SSL|encryption)\W+(?:is\s+|are\s+)?(?:required|mandatory)\b|\brequires?\s+(?:TLS|STARTTLS|encryption)\b|\bmust\s+issue\s+a\s+STARTTLS\b|\bsent\s+over\s+a\s+TLS\s+connection\b|\bappropriate\s+TLS\s+channel\b|\bTLS\s+1\.[01](?:\s+and\s+1\.[01])?\s+(?:are|is)\s+not\s+supported\b`)

// tlsVersionRequired are the words of a receiver that requires a newer TLS
// version than the sender used (Microsoft 365's "421 4.7.66 TLS 1.0 and
// 1.1 are not supported"): the lab's require-tls scenario, which refuses
// mail sent without TLS, does not reproduce that.
var tlsVersionRequired = re(`\bTLS\s+1\.[01](?:\s+and\s+1\.[01])?\s+(?:are|is)\s+not\s+supported\b|\b[45]\.7\.66\b`)

// startTLSRefusals are replies that refuse the STARTTLS command itself
// after EHLO offered it (RFC 3207 §4: "454 TLS not available due to
// temporary reason"): a 454 that says TLS is not available, or a 4xx
// reply a client quotes as its answer to STARTTLS (Postfix "(in reply
// to STARTTLS command)", nodemailer "Error upgrading connection with
// STARTTLS: 454 ...", mox "STARTTLS: got 454"). A 50x to STARTTLS is a
// command the server does not offer (starttls-not-supported, patterns.go).
var startTLSRefusals = re(`\b454[ -](?:[45]\.\d{1,3}\.\d{1,3}\s+)?(?:TLS|STARTTLS)\b[^\n]{0,40}?\b(?:not\s+available|unavailable)|\b4\d\d\b[^()\n]{0,120}\(in reply to STARTTLS command\)|\bSTARTTLS:?\s+(?:got\s+)?4\d\d\b`)

// startTLSRefused reports whether a text quotes a refusal of STARTTLS.
func startTLSRefused(text string) bool {
	return startTLSRefusals.MatchString(text) && !receiverRequiresTLS(text)
}

// senderPolicyTLS are the sender's own words for a TLS policy it could
// not meet; they are explained by their own rules (patterns.go).
var senderPolicyTLS = re(`TLS is required, but`)

// googleTLSStatus are Gmail's status codes for a message not sent over
// TLS: 4.7.29 (deferred) and 5.7.29 (bounced), Google's sender guidelines
// FAQ (as quoted by https://relaymetry.com/gmail-5-7-29-tls-required).
var googleTLSStatus = re(`\b[45]\.7\.29\b`)

// receiverRequiresTLS reports whether a text is a receiver's refusal of
// mail that did not come over TLS: a failing reply, with words that say
// TLS is required, or Gmail's status for it.
func receiverRequiresTLS(text string) bool {
	if senderPolicyTLS.MatchString(text) {
		return false
	}
	flat := continuation.ReplaceAllString(text, "")
	r := decodeReply(text)
	if !r.failed {
		return false
	}
	return tlsRequiredWords.MatchString(flat) || googleTLSStatus.MatchString(text)
}

// certificate issuers: a Postfix "untrusted issuer /C=../O=../CN=..", a
// sendmail "cert-issuer=/C=..", an OpenSSL "issuer=..".
var issuerField = re(`(?:untrusted issuer|cert-issuer=|\bissuer=)\s*(\S[^\n,]*)`)

// nextField starts what follows an issuer on a joined line: a Postfix
// status field, a syslog header, a program name.
var nextField = re(`\s(?:status=|dsn=|to=<|\w{3}\s+\d{1,2} \d\d:\d\d:\d\d|\S+\[\d+\]:|postfix/)`)

// publicCAs are names in the issuer of certificates from CAs every
// sender's trust store holds (Mozilla's CA list, as shipped by
// ca-certificates): an "untrusted issuer" naming one of them says the
// sender has no CA list, not that the server's certificate is bad.
var publicCAs = re(`Let'?s\s*Encrypt|\bISRG\b|GlobalSign|DigiCert|Sectigo|Comodo|USERTrust|GeoTrust|RapidSSL|Thawte|VeriSign|Equifax|Entrust|Go\s*Daddy|Starfield|Amazon|Google\s+Trust\s+Services|\bGTS\b|Microsoft|IdenTrust|DST\s+Root|Buypass|ZeroSSL|Actalis|QuoVadis|SwissSign|TeleSec|Telekom\s+Security|Certum|HARICA|GEANT|SSL\.com|Baltimore|Cybertrust|Network\s+Solutions|TERENA|Trustwave|SecureTrust`)

// Certificate evidence: what a text says about a certificate the sender
// did not trust.
const (
	certUnknown    = ""
	certSelfSigned = "self-signed" // the text says the certificate is self-signed
	certPrivateCA  = "private-ca"  // it names an issuer no public CA's
	certPublicCA   = "public-ca"   // it names a public CA's issuer
)

func certificateEvidence(text string) string {
	if m := issuerField.FindStringSubmatch(text); m != nil {
		issuer := m[1]
		// A joined paste runs on into the next line: cut at the next log
		// field or line header.
		if loc := nextField.FindStringIndex(issuer); loc != nil {
			issuer = issuer[:loc[0]]
		}
		switch {
		case publicCAs.MatchString(issuer):
			return certPublicCA
		case strings.Contains(issuer, "...") || strings.Contains(issuer, "…"):
			// elided when posted: the issuer is unknown
		case strings.Trim(issuer, "/CN= ") != "":
			return certPrivateCA
		}
	}
	if f := verifyDetail(text); f == verifySelfSigned {
		return certSelfSigned
	}
	return certUnknown
}
