// Package scenarios is the catalogue of lab scenarios: what each receiving
// server does wrong, which real server it imitates, and what every sender is
// expected to do about it. Scenarios are data (one YAML file each, embedded
// under builtin/); users add their own in the same format.
package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mxlab/mxlab/internal/catalog"
	"github.com/mxlab/mxlab/result"
)

// Scenario is one receiving-server misconfiguration, with its lesson.
type Scenario struct {
	// Name is the stable identifier, also the scenario's DNS label.
	Name string `yaml:"name" json:"name,omitempty"`
	// Title is a one-line headline.
	Title string `yaml:"title" json:"title,omitempty"`
	// Summary is the one-line description `mxlab scenarios` lists.
	Summary string `yaml:"summary" json:"summary,omitempty"`
	// Kind says whether the scenario is an MX (senders deliver to it) or a
	// submission service (applications send through it).
	Kind Kind `yaml:"kind" json:"kind,omitempty"`
	// Incident tells the real-world story the scenario reproduces.
	Incident string `yaml:"incident" json:"incident,omitempty"`
	// Sources cite the incident and the facts the scenario relies on.
	Sources []string `yaml:"sources" json:"sources,omitempty"`
	// Imitates names the server dialect (servers/*.yaml) the lab speaks.
	Imitates string `yaml:"imitates" json:"imitates,omitempty"`
	// Port is the default port in the one-port-per-scenario layout.
	Port int `yaml:"port" json:"port,omitempty"`
	// MX is the MX host's name relative to the scenario's domain; it may
	// use {hex12}, a value stable per state directory. Default "mx".
	MX string `yaml:"mx" json:"mx,omitempty"`
	// Host is the server's own host name relative to the domain (banner,
	// EHLO, certificate); default: the MX name.
	Host string `yaml:"host" json:"host,omitempty"`
	// SMTP holds the SMTP-level knobs.
	SMTP SMTP `yaml:"smtp" json:"smtp,omitempty"`
	// TLS holds the TLS-level knobs.
	TLS TLS `yaml:"tls" json:"tls,omitempty"`
	// DNS holds what the lab's DNS publishes for the scenario.
	DNS DNS `yaml:"dns" json:"dns,omitempty"`
	// Faults are what the server does wrong at named points of a
	// session, beyond its TLS rules (faults.go).
	Faults []Fault `yaml:"faults" json:"faults,omitempty"`
	// MTASTS is the domain's MTA-STS policy (mtasts.go); nil publishes
	// none.
	MTASTS *MTASTS `yaml:"mta_sts" json:"mta_sts,omitempty"`
	// TLSRPT lists where the domain's _smtp._tls record asks for TLS-RPT
	// reports (RFC 8460 §3), all of them at the lab; empty publishes no
	// record.
	TLSRPT []TLSRPT `yaml:"tls_rpt" json:"tls_rpt,omitempty"`
	// Why is the one line the matrix prints: why the senders that fail
	// fail and why the others do not.
	Why string `yaml:"why" json:"why,omitempty"`
	// Lesson explains why senders fail and why only some of them do.
	Lesson string `yaml:"lesson" json:"lesson,omitempty"`
	// Fix says how the real server's admin repairs it.
	Fix string `yaml:"fix" json:"fix,omitempty"`
	// Expectations holds, per sender profile, the expected outcome and its
	// evidence.
	Expectations map[string]Expectation `yaml:"expectations" json:"expectations,omitempty"`

	// File is where the scenario was loaded from ("builtin/baseline.yaml").
	File string `yaml:"-" json:"-"`
}

// Kind is what role a scenario plays for senders.
type Kind string

// Scenario kinds.
const (
	// KindMX is a receiving MX: the sender matrix delivers to it.
	KindMX Kind = "mx"
	// KindSubmission is a submission service: only `send --auth` uses it.
	KindSubmission Kind = "submission"
)

// SMTP holds a scenario's SMTP-level knobs; zero values take the dialect's.
type SMTP struct {
	// Banner overrides the dialect's 220 greeting text.
	Banner string `yaml:"banner" json:"banner,omitempty"`
	// EHLOKeywords overrides the dialect's EHLO keywords, in order.
	EHLOKeywords []string `yaml:"ehlo_keywords" json:"ehlo_keywords,omitempty"`
	// STARTTLS says whether EHLO lists STARTTLS (default true).
	STARTTLS *bool `yaml:"starttls" json:"starttls,omitempty"`
	// RequireTLS makes MAIL before STARTTLS fail with the dialect's
	// tls-required reply (a submission service, Postfix
	// smtpd_tls_security_level = encrypt).
	RequireTLS bool `yaml:"require_tls" json:"require_tls,omitempty"`
	// Auth offers SMTP AUTH; nil offers none.
	Auth *Auth `yaml:"auth" json:"auth,omitempty"`
}

// OffersSTARTTLS reports whether EHLO advertises STARTTLS.
func (s SMTP) OffersSTARTTLS() bool { return s.STARTTLS == nil || *s.STARTTLS }

// Auth configures SMTP AUTH (RFC 4954) on a scenario.
type Auth struct {
	// Mechanisms offered, in order: PLAIN and LOGIN are supported.
	Mechanisms []string `yaml:"mechanisms" json:"mechanisms,omitempty"`
	// Required makes MAIL without AUTH fail with the auth-required reply.
	Required bool `yaml:"required" json:"required,omitempty"`
	// AfterTLSOnly offers AUTH only once TLS is up (Postfix
	// smtpd_tls_auth_only = yes).
	AfterTLSOnly bool `yaml:"after_tls_only" json:"after_tls_only,omitempty"`
	// Users restricts the accepted credentials (user: password); empty
	// accepts any credentials and records them.
	Users map[string]string `yaml:"users" json:"users,omitempty"`
}

// TLS holds a scenario's TLS knobs.
type TLS struct {
	// Certificate is the kind of certificate the server presents.
	Certificate CertKind `yaml:"certificate" json:"certificate,omitempty"`
	// CertFile and KeyFile are PEM files, for certificate: file.
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
	// Names the certificate covers, as templates ({mx}, {host},
	// {domain}); default ["{mx}"].
	Names []string `yaml:"names" json:"names,omitempty"`
	// Key is the key type of generated certificates (default rsa-2048).
	Key KeyType `yaml:"key" json:"key,omitempty"`
	// Issuer is who signs a ca-signed certificate: lab-ca (default),
	// lab-intermediate, or untrusted-ca (a second CA no client trusts).
	Issuer Issuer `yaml:"issuer" json:"issuer,omitempty"`
	// Chain is what the server sends after its certificate: full
	// (default: every intermediate), leaf-only (the missing-intermediate
	// mistake) or wrong-intermediate.
	Chain Chain `yaml:"chain" json:"chain,omitempty"`
	// NotBefore and NotAfter place the validity window relative to the
	// lab's start, as signed durations with a d (day) unit allowed:
	// "-400d" and "-30d" make a certificate that expired 30 days ago.
	// Empty: an hour ago and 397 days from now.
	NotBefore RelTime `yaml:"not_before" json:"not_before,omitempty"`
	NotAfter  RelTime `yaml:"not_after" json:"not_after,omitempty"`
	// MinVersion and MaxVersion bound the versions offered ("1.0".."1.3");
	// empty means Go's defaults.
	MinVersion Version `yaml:"min_version" json:"min_version,omitempty"`
	MaxVersion Version `yaml:"max_version" json:"max_version,omitempty"`
	// Ciphers restricts the TLS 1.2 suites by IANA name; empty means Go's
	// defaults. (TLS 1.3 suites are not configurable in Go.)
	Ciphers []string `yaml:"ciphers" json:"ciphers,omitempty"`
	// SessionTickets makes the server send TLS 1.3 NewSessionTicket, as
	// OpenSSL-based servers do by default (docs/interop-recipe.md §6b); unset
	// follows the imitated server's dialect.
	SessionTickets *bool `yaml:"session_tickets" json:"session_tickets,omitempty"`
	// Reject lists ClientHello rules checked in order before the
	// handshake; the first that matches ends the session with its alert.
	Reject []RejectRule `yaml:"reject" json:"reject,omitempty"`
	// LegacyAnonymous says an OpenSSL-1.0-era build of the imitated
	// server would have negotiated an anonymous suite with a client that
	// offers one, which Go's crypto/tls cannot do; the session record
	// says so.
	LegacyAnonymous bool `yaml:"legacy_anonymous" json:"legacy_anonymous,omitempty"`
}

// RejectRule ends a TLS handshake with an alert when a ClientHello matches.
type RejectRule struct {
	// When is the condition on the ClientHello.
	When Condition `yaml:"when" json:"when,omitempty"`
	// Alert is the alert's name or number (e.g. illegal_parameter, 47).
	Alert string `yaml:"alert" json:"alert,omitempty"`
	// Log is what the imitated server logs (e.g. "no shared cipher").
	Log string `yaml:"log" json:"log,omitempty"`
}

// Condition is a test on a ClientHello, implemented in the server package.
type Condition string

// ClientHello conditions.
const (
	// Always matches every ClientHello.
	Always Condition = "always"
	// GnuTLSDisallowedSNI matches a server_name GnuTLS refuses
	// (lib/ext/server_name.c: a character outside [A-Za-z0-9.-]).
	GnuTLSDisallowedSNI Condition = "gnutls-disallowed-sni"
	// MalformedSNI matches a server_name extension that does not parse
	// (an empty name or a wrong length), which GnuTLS answers with
	// decode_error.
	MalformedSNI Condition = "malformed-sni"
	// TLS13Only matches a ClientHello that offers TLS 1.3 and nothing older.
	TLS13Only Condition = "tls13-only"
	// NotTLS matches a client that sends something other than a TLS
	// handshake record after "220 Ready to start TLS" (e.g. plaintext).
	NotTLS Condition = "not-tls"
)

// CertKind is the kind of certificate a scenario presents.
type CertKind string

// Certificate kinds.
const (
	// CertCASigned is a leaf issued by the lab CA (the default).
	CertCASigned CertKind = "ca-signed"
	// CertSelfSigned is a leaf that signs itself.
	CertSelfSigned CertKind = "self-signed"
	// CertNone is no certificate at all (sendmail without one).
	CertNone CertKind = "none"
	// CertFile is a certificate and key from PEM files.
	CertFile CertKind = "file"
)

// Issuer is who signs a scenario's certificate.
type Issuer string

// Issuers.
const (
	IssuerLabCA           Issuer = "lab-ca"
	IssuerLabIntermediate Issuer = "lab-intermediate"
	IssuerUntrustedCA     Issuer = "untrusted-ca"
)

// Chain is what a server sends after its own certificate.
type Chain string

// Chains.
const (
	ChainFull              Chain = "full"
	ChainLeafOnly          Chain = "leaf-only"
	ChainWrongIntermediate Chain = "wrong-intermediate"
)

// KeyType is the key algorithm of a generated certificate.
type KeyType string

// Key types.
const (
	KeyRSA2048   KeyType = "rsa-2048"
	KeyECDSAP256 KeyType = "ecdsa-p256"
)

// Version is a TLS version as users write it: "1.0", "1.1", "1.2", "1.3".
type Version string

// DNS holds what the lab publishes in DNS for a scenario.
type DNS struct {
	// TLSA says which TLSA 3 1 1 record is published for the MX.
	TLSA TLSAKind `yaml:"tlsa" json:"tlsa,omitempty"`
	// Authenticated false is the older spelling of delegation: insecure
	// (default true): the scenario's answers carry no AD bit.
	Authenticated *bool `yaml:"authenticated" json:"authenticated,omitempty"`
	// Delegation says how the scenario's domain hangs below the signed
	// lab zone (default signed).
	Delegation Delegation `yaml:"delegation" json:"delegation,omitempty"`
	// Bogus lists the scenario's RRsets whose DNSSEC signatures do not
	// verify (default none).
	Bogus []BogusRRset `yaml:"bogus" json:"bogus,omitempty"`
}

// IsAuthenticated reports whether a validating resolver authenticates the
// scenario's answers (sets AD): not below an insecure delegation.
func (d DNS) IsAuthenticated() bool {
	return (d.Authenticated == nil || *d.Authenticated) && d.Delegation != DelegationInsecure
}

// Delegation is how a scenario's domain hangs below the lab zone.
type Delegation string

// Delegations.
const (
	// DelegationSigned keeps the domain in the signed lab zone: a
	// validating resolver authenticates its answers (the default).
	DelegationSigned Delegation = "signed"
	// DelegationInsecure makes the domain a child zone delegated without
	// a DS record (RFC 4035 §5.2, RFC 4033 §2 "insecure delegation"):
	// the signed parent proves there is no DS, the child is served
	// unsigned, and a validating resolver answers for every name in it
	// without AD. DANE senders then fall back to opportunistic TLS (RFC
	// 7672 §2.2).
	DelegationInsecure Delegation = "insecure"
)

// BogusRRset names one of a scenario's RRsets whose signature is broken,
// as if the records had changed after the zone was signed: a validating
// resolver answers SERVFAIL for it (RFC 4035 §5.5).
type BogusRRset string

// Bogus RRsets.
const (
	// BogusMX breaks the MX RRset of the domain (and of every name below
	// it).
	BogusMX BogusRRset = "mx"
	// BogusAddress breaks the MX host's A or AAAA RRset.
	BogusAddress BogusRRset = "a"
	// BogusTLSA breaks the MX host's TLSA RRsets: a DANE sender whose MX
	// answer was secure cannot tell this from an attack and defers (RFC
	// 7672 §2.1.1; Microsoft 365's 4.7.324 dnssec-invalid).
	BogusTLSA BogusRRset = "tlsa"
)

// TLSAKind says what TLSA record a scenario publishes.
type TLSAKind string

// TLSA kinds.
const (
	// TLSANone publishes no TLSA record (the default).
	TLSANone TLSAKind = "none"
	// TLSACurrent publishes 3 1 1 for the key the server uses.
	TLSACurrent TLSAKind = "current"
	// TLSAPrevious publishes 3 1 1 for a previous key: the record was not
	// updated after a key rollover.
	TLSAPrevious TLSAKind = "previous"
)

// Expectation is what a sender profile is expected to do on a scenario.
type Expectation struct {
	// Outcome is delivered, delivered-plaintext, deferred or bounced.
	Outcome result.Outcome `yaml:"outcome" json:"outcome,omitempty"`
	// Reason is the expected reason (result.Reasons), "" for any.
	Reason result.Reason `yaml:"reason" json:"reason,omitempty"`
	// Evidence cites a measured run, a source line, a document or a report.
	Evidence string `yaml:"evidence" json:"evidence,omitempty"`
}

var (
	kinds       = []Kind{KindMX, KindSubmission}
	conditions  = []Condition{Always, GnuTLSDisallowedSNI, MalformedSNI, TLS13Only, NotTLS}
	certKinds   = []CertKind{CertCASigned, CertSelfSigned, CertNone, CertFile}
	keyTypes    = []KeyType{KeyRSA2048, KeyECDSAP256}
	issuers     = []Issuer{IssuerLabCA, IssuerLabIntermediate, IssuerUntrustedCA}
	chains      = []Chain{ChainFull, ChainLeafOnly, ChainWrongIntermediate}
	versions    = []Version{"1.0", "1.1", "1.2", "1.3"}
	tlsaKinds   = []TLSAKind{TLSANone, TLSACurrent, TLSAPrevious}
	delegations = []Delegation{DelegationSigned, DelegationInsecure}
	bogusSets   = []BogusRRset{BogusMX, BogusAddress, BogusTLSA}
	mechs       = []string{"PLAIN", "LOGIN"}
)

// applyDefaults fills the zero values the YAML may leave out.
func (s *Scenario) applyDefaults() {
	if s.Kind == "" {
		s.Kind = KindMX
	}
	if s.MX == "" {
		s.MX = "mx"
	}
	if s.Host == "" {
		s.Host = s.MX
	}
	if s.TLS.Certificate == "" {
		s.TLS.Certificate = CertCASigned
	}
	if len(s.TLS.Names) == 0 {
		s.TLS.Names = []string{"{mx}"}
	}
	if s.TLS.Key == "" {
		s.TLS.Key = KeyRSA2048
	}
	if s.TLS.Issuer == "" {
		s.TLS.Issuer = IssuerLabCA
	}
	if s.TLS.Chain == "" {
		s.TLS.Chain = ChainFull
	}
	if s.DNS.TLSA == "" {
		s.DNS.TLSA = TLSANone
	}
	if s.DNS.Delegation == "" {
		s.DNS.Delegation = DelegationSigned
	}
	if s.MTASTS != nil {
		s.MTASTS.applyDefaults()
	}
}

// validate checks every field a file can get wrong and names the key.
func (s *Scenario) validate() error {
	if !catalog.NameRE.MatchString(s.Name) {
		return fmt.Errorf("name: %q is not a DNS label of lowercase letters, digits and '-'", s.Name)
	}
	if s.Summary == "" {
		return fmt.Errorf("summary: missing")
	}
	if s.Imitates == "" {
		return fmt.Errorf("imitates: missing (name a server dialect such as %q)", "postfix")
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("port: %d is not a port number", s.Port)
	}
	checks := []error{
		catalog.OneOf("kind", s.Kind, kinds),
		catalog.OneOf("tls.certificate", s.TLS.Certificate, certKinds),
		catalog.OneOf("tls.key", s.TLS.Key, keyTypes),
		catalog.OneOf("tls.issuer", s.TLS.Issuer, issuers),
		catalog.OneOf("tls.chain", s.TLS.Chain, chains),
		catalog.OneOf("dns.tlsa", s.DNS.TLSA, tlsaKinds),
		catalog.OneOf("dns.delegation", s.DNS.Delegation, delegations),
	}
	for i, b := range s.DNS.Bogus {
		checks = append(checks, catalog.OneOf(fmt.Sprintf("dns.bogus[%d]", i), b, bogusSets))
	}
	nb, nbErr := s.TLS.NotBefore.Duration("tls.not_before")
	na, naErr := s.TLS.NotAfter.Duration("tls.not_after")
	checks = append(checks, nbErr, naErr)
	if s.TLS.NotBefore == "" {
		nb = -time.Hour // certs' default
	}
	if s.TLS.NotAfter == "" {
		na = 397 * 24 * time.Hour
	}
	if nbErr == nil && naErr == nil && na <= nb {
		checks = append(checks, fmt.Errorf("tls.not_after: %s is not after tls.not_before %s", s.TLS.NotAfter, s.TLS.NotBefore))
	}
	if s.TLS.Certificate != CertCASigned && (s.TLS.Issuer != IssuerLabCA || s.TLS.Chain != ChainFull) {
		checks = append(checks, fmt.Errorf("tls.issuer, tls.chain: only a ca-signed certificate has an issuer and a chain (tls.certificate is %s)", s.TLS.Certificate))
	}
	if s.TLS.Chain == ChainWrongIntermediate && s.TLS.Issuer != IssuerLabIntermediate {
		checks = append(checks, fmt.Errorf("tls.chain: wrong-intermediate needs tls.issuer: lab-intermediate (a chain with an intermediate)"))
	}
	for i, f := range s.Faults {
		checks = append(checks, f.validate(fmt.Sprintf("faults[%d]", i)))
	}
	if s.MTASTS != nil {
		checks = append(checks, s.MTASTS.validate())
	}
	checks = append(checks, validateTLSRPT(s.TLSRPT))
	if s.TLS.MinVersion != "" {
		checks = append(checks, catalog.OneOf("tls.min_version", s.TLS.MinVersion, versions))
	}
	if s.TLS.MaxVersion != "" {
		checks = append(checks, catalog.OneOf("tls.max_version", s.TLS.MaxVersion, versions))
	}
	for i, r := range s.TLS.Reject {
		checks = append(checks, catalog.OneOf(fmt.Sprintf("tls.reject[%d].when", i), r.When, conditions))
		if r.Alert == "" {
			checks = append(checks, fmt.Errorf("tls.reject[%d].alert: missing", i))
		}
	}
	if s.SMTP.Auth != nil {
		if len(s.SMTP.Auth.Mechanisms) == 0 {
			checks = append(checks, fmt.Errorf("smtp.auth.mechanisms: missing"))
		}
		for i, m := range s.SMTP.Auth.Mechanisms {
			checks = append(checks, catalog.OneOf(fmt.Sprintf("smtp.auth.mechanisms[%d]", i), strings.ToUpper(m), mechs))
		}
	}
	for prof, e := range s.Expectations {
		checks = append(checks, catalog.OneOf("expectations."+prof+".outcome", e.Outcome, result.Outcomes))
		if e.Reason != "" {
			checks = append(checks, catalog.OneOf("expectations."+prof+".reason", e.Reason, result.Reasons))
		}
		if e.Evidence == "" {
			checks = append(checks, fmt.Errorf("expectations.%s.evidence: missing (an expectation without evidence is not one: leave the profile out)", prof))
		}
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	for i, r := range s.TLS.Reject {
		if _, err := parseAlert(r.Alert); err != nil {
			return fmt.Errorf("tls.reject[%d].alert: %w", i, err)
		}
	}
	if s.TLS.Certificate == CertFile && (s.TLS.CertFile == "" || s.TLS.KeyFile == "") {
		return fmt.Errorf("tls.cert_file, tls.key_file: both are required with certificate: file")
	}
	if s.TLS.Certificate == CertNone && s.SMTP.OffersSTARTTLS() && !hasAlways(s.TLS.Reject) {
		return fmt.Errorf("tls.reject: a scenario that offers STARTTLS without a certificate needs a rule with when: always (what alert does the server send?)")
	}
	if s.TLS.Certificate == CertNone && s.DNS.TLSA != TLSANone {
		return fmt.Errorf("dns.tlsa: %q needs a certificate, but tls.certificate is none", s.DNS.TLSA)
	}
	if s.DNS.Authenticated != nil && *s.DNS.Authenticated && s.DNS.Delegation == DelegationInsecure {
		return fmt.Errorf("dns.authenticated: true contradicts dns.delegation: insecure (a validator authenticates nothing in an unsigned zone)")
	}
	if len(s.DNS.Bogus) > 0 && !s.DNS.IsAuthenticated() {
		return fmt.Errorf("dns.bogus: an insecure delegation is unsigned: there is no signature to break")
	}
	if slices.Contains(s.DNS.Bogus, BogusTLSA) && s.DNS.TLSA == TLSANone {
		return fmt.Errorf("dns.bogus: tlsa needs a TLSA record, but dns.tlsa is none")
	}
	if s.TLS.MinVersion != "" && s.TLS.MaxVersion != "" && s.TLS.MinVersion > s.TLS.MaxVersion {
		return fmt.Errorf("tls.min_version: %s is above tls.max_version %s", s.TLS.MinVersion, s.TLS.MaxVersion)
	}
	if err := catalog.CheckTemplate("mx", s.MX, "hex12"); err != nil {
		return err
	}
	if err := catalog.CheckTemplate("host", s.Host, "hex12"); err != nil {
		return err
	}
	for i, n := range s.TLS.Names {
		if err := catalog.CheckTemplate(fmt.Sprintf("tls.names[%d]", i), n, "mx", "host", "domain"); err != nil {
			return err
		}
	}
	return nil
}

func hasAlways(rules []RejectRule) bool {
	for _, r := range rules {
		if r.When == Always {
			return true
		}
	}
	return false
}
