// Package profiles is the catalogue of sender profiles: how Gmail,
// Proton, Outlook, Postfix at each TLS level, Exim and sendmail deliver,
// as data (one embedded YAML file per sender). Every behaviour carries its
// evidence; what has none is unconfirmed.
package profiles

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mxlab/mxlab/internal/catalog"
	"github.com/mxlab/mxlab/internal/strictyaml"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/tlsname"
)

// Profile is how one sending MTA delivers.
type Profile struct {
	// Name is the stable identifier (docs/contracts.md: gmail, postfix-may, ...).
	Name string `yaml:"name" json:"name"`
	// Title names the sender in a few words.
	Title string `yaml:"title" json:"title"`
	// Summary is the one line `mxlab profiles` lists.
	Summary string `yaml:"summary" json:"summary"`
	// Software is the real sender and its TLS stack.
	Software string `yaml:"software" json:"software"`
	// STARTTLS is what the sender does about STARTTLS.
	STARTTLS StartTLSPolicy `yaml:"starttls" json:"starttls"`
	// SNI is the server name the sender puts in its ClientHello.
	SNI SNIPolicy `yaml:"sni" json:"sni"`
	// TLS is the sender's TLS offer.
	TLS TLSOffer `yaml:"tls" json:"tls"`
	// Verify is what the sender checks after the handshake.
	Verify Verification `yaml:"verify" json:"verify"`
	// On says what the sender does on each kind of failure.
	On map[result.Reason]Reaction `yaml:"on" json:"on"`
	// Delivered is the log or status text on success.
	Delivered string `yaml:"delivered" json:"delivered"`
	// DeliveredPlaintext, when set, is the text on success without TLS
	// (Exim logs X= only for TLS deliveries).
	DeliveredPlaintext string `yaml:"delivered_plaintext" json:"delivered_plaintext,omitempty"`
	// Evidence cites, per behaviour key (starttls, sni, tls, verify,
	// on.<failure>, delivered), a measured run, a source line, a
	// document or a public report. A key without one is unconfirmed.
	Evidence map[string]string `yaml:"evidence" json:"evidence"`
	// Notes say what the profile simplifies.
	Notes string `yaml:"notes" json:"notes,omitempty"`

	// File is where the profile was loaded from.
	File string `yaml:"-" json:"-"`
}

// StartTLSPolicy is a sender's STARTTLS behaviour.
type StartTLSPolicy string

// STARTTLS policies.
const (
	// Opportunistic uses STARTTLS when offered, plaintext otherwise.
	Opportunistic StartTLSPolicy = "opportunistic"
	// Required defers when STARTTLS is not offered (Postfix encrypt).
	Required StartTLSPolicy = "required"
	// Never does not use STARTTLS.
	Never StartTLSPolicy = "never"
)

// SNIPolicy is which server name a sender sends.
type SNIPolicy string

// SNI policies.
const (
	// SNIMX sends the MX host name.
	SNIMX SNIPolicy = "mx"
	// SNINone sends no server_name extension.
	SNINone SNIPolicy = "none"
	// SNIDANE sends the MX host name (the TLSA base domain) only when
	// usable, authenticated TLSA records exist, and none otherwise
	// (Postfix at dane, docs/interop-recipe.md §5).
	SNIDANE SNIPolicy = "dane"
	// SNIMTASTS sends the MX host name only when an MTA-STS policy in
	// enforce mode applies, and none otherwise (Postfix with
	// postfix-mta-sts-resolver, whose policy answer carries
	// servername=hostname; RFC 8461 §7.1 asks MTA-STS senders for SNI).
	SNIMTASTS SNIPolicy = "mta-sts"
)

// TLSOffer is what the sender's TLS stack offers.
type TLSOffer struct {
	// MinVersion and MaxVersion bound the versions ("1.0".."1.3").
	MinVersion string `yaml:"min_version" json:"min_version,omitempty"`
	MaxVersion string `yaml:"max_version" json:"max_version,omitempty"`
	// RefuseBelow is the lowest version the real stack completes a
	// handshake at, when it offers older ones: OpenSSL 3 at Debian's
	// security level 2 lists TLS 1.0 and 1.1 in its ClientHello, then
	// refuses the server's MD5-SHA1 key-exchange signature ("legacy
	// sigalg disallowed or unsupported"). Empty: MinVersion.
	RefuseBelow string `yaml:"refuse_below" json:"refuse_below,omitempty"`
	// AnonymousSuites are anonymous (aNULL) suites the real stack offers
	// and Go's crypto/tls cannot negotiate, as hex ids ("00a7"); the
	// sender probes whether the server would pick one.
	AnonymousSuites []string `yaml:"anonymous_suites" json:"anonymous_suites,omitempty"`
	// Groups are the key exchange groups the real stack offers, by IANA
	// name, where they decide what a server picks (GnuTLS 3.7 offers no
	// X25519MLKEM768, which Go offers first). Empty: Go's defaults.
	Groups []string `yaml:"groups" json:"groups,omitempty"`
}

// Verification is what a sender checks about the server's certificate.
type Verification struct {
	// PKIX requires a chain to a trusted root and the MX name (or the
	// next-hop domain) in the certificate.
	PKIX bool `yaml:"pkix" json:"pkix"`
	// DANE validates against TLSA records when the MX's TLSA lookup is
	// authenticated (AD) and usable records exist (RFC 7672).
	DANE bool `yaml:"dane" json:"dane"`
	// DANEChecks are what the sender checks beyond RFC 7672 once a
	// DANE-EE record matched: "validity" (dates) and "names", which RFC
	// 7672 §3.1.1 says to ignore but Microsoft 365 documents checking
	// (4/5.7.322 certificate-expired, 5.7.325 certificate-host-mismatch).
	DANEChecks []string `yaml:"dane_checks" json:"dane_checks,omitempty"`
	// MTASTS: the sender looks up the recipient domain's MTA-STS policy
	// (RFC 8461) and, in enforce mode, delivers only to an MX the policy
	// lists, over TLS with a certificate PKIX-valid for it; a policy in
	// testing mode is only reported. Where DANE applies it wins (RFC
	// 8461 §2).
	MTASTS bool `yaml:"mta_sts" json:"mta_sts,omitempty"`
	// MTASTSCache: the real sender caches policies by id for their
	// max_age (RFC 8461 §3.3), so a later attempt whose fetch fails
	// applies the cached policy. The sender caches only when given a
	// cache (sender.Options.STSCache).
	MTASTSCache bool `yaml:"mta_sts_cache" json:"mta_sts_cache,omitempty"`
	// MTASTSMatch is where an enforced policy's mx patterns are checked
	// (default STSMatchMX).
	MTASTSMatch STSMatch `yaml:"mta_sts_match" json:"mta_sts_match,omitempty"`
}

// STSMatch is where a sender checks an MTA-STS policy's mx patterns.
type STSMatch string

// Where mx patterns are checked.
const (
	// STSMatchMX checks the MX host name before connecting, as RFC 8461
	// §4.1 says: an MX the policy does not list is not tried
	// (result.STSMXMismatch); the certificate must then be valid for the
	// MX name (§4.2).
	STSMatchMX STSMatch = "mx"
	// STSMatchCertificate connects to any MX and checks the
	// certificate's names against the patterns: postfix-mta-sts-resolver
	// answers "secure match=<patterns>" and Postfix's secure level
	// compares the certificate with them (postconf(5)
	// smtp_tls_secure_cert_match), so an unlisted MX ends as a
	// certificate-host-mismatch after the handshake.
	STSMatchCertificate STSMatch = "certificate"
)

// Reaction is what a sender does on one kind of failure.
type Reaction struct {
	// Outcome of the attempt.
	Outcome result.Outcome `yaml:"outcome" json:"outcome"`
	// QuitAfterHandshake: the sender says QUIT right after the
	// handshake (a DANE sender on a mismatch) instead of just closing.
	QuitAfterHandshake bool `yaml:"quit_after_handshake" json:"quit_after_handshake,omitempty"`
	// ResetAfterHandshake: the sender drops the TLS connection with a
	// TCP reset, with neither QUIT nor close_notify (Exim after a failed
	// DANE check: smtp.c sets send_quit = FALSE; the lab records reset).
	ResetAfterHandshake bool `yaml:"reset_after_handshake" json:"reset_after_handshake,omitempty"`
	// Message is the text the sender logs or puts in its bounce; it may
	// use {mx}, {ip}, {port}, {alert} (number), {alert_name},
	// {ALERT_NAME}, {alert_words}, {boringssl}, {openssl3}, {reply},
	// {reply_dsn}, {reply_text} (the reply without its codes).
	Message string `yaml:"message" json:"message"`
	// Later is what the sender does on its next attempts.
	Later []Later `yaml:"later" json:"later,omitempty"`
	// Assumed says why this reaction is assumed when no evidence backs
	// it (which other behaviour it was modelled on): a reaction is either
	// evidenced (Profile.Evidence["on.<failure>"]) or says it is assumed.
	Assumed string `yaml:"assumed" json:"assumed,omitempty"`
	// DANE, when set, replaces this reaction when DANE applies to the
	// MX (authenticated, usable TLSA records): a DANE sender that is
	// opportunistic elsewhere must not fall back (RFC 7672 §2.2).
	DANE *Reaction `yaml:"dane" json:"dane,omitempty"`
	// STS, when set, replaces this reaction when an MTA-STS policy in
	// enforce mode applies to the MX: the sender must not fall back to
	// plaintext or to an unverified certificate (RFC 8461 §5).
	STS *Reaction `yaml:"sts" json:"sts,omitempty"`
}

// Later is one predicted later attempt.
type Later struct {
	// After is an ISO 8601 duration from the first attempt ("PT15M").
	After string `yaml:"after" json:"after"`
	// Outcome of that attempt.
	Outcome result.Outcome `yaml:"outcome" json:"outcome"`
	// Why, in a few words.
	Why string `yaml:"why" json:"why,omitempty"`
}

var durationRE = regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`)

// ParseISODuration parses the subset of ISO 8601 durations profiles use.
func ParseISODuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration such as PT15M or P5D", s)
	}
	var d time.Duration
	num := func(part string, unit time.Duration) {
		if part == "" {
			return
		}
		var n int
		fmt.Sscanf(part, "%d", &n)
		d += time.Duration(n) * unit
	}
	num(m[1], 24*time.Hour)
	num(m[3], time.Hour)
	num(m[4], time.Minute)
	num(m[5], time.Second)
	return d, nil
}

var versions = []string{"", "1.0", "1.1", "1.2", "1.3"}

// messagePlaceholders are what reaction messages may use (sender.render).
var messagePlaceholders = []string{"mx", "ip", "port", "domain", "reply", "reply_dsn", "reply_text", "while", "mx_short", "alert", "alert_name", "ALERT_NAME", "alert_words", "boringssl", "openssl3",
	"gnutls_session", "exim_cv", "peer_dn", "exim_k", "openssl_reason"}

func (p *Profile) validate() error {
	if !catalog.NameRE.MatchString(p.Name) {
		return fmt.Errorf("name: %q is not a lowercase identifier", p.Name)
	}
	if p.Summary == "" || p.Software == "" {
		return errors.New("summary, software: both are required")
	}
	checks := []error{
		catalog.OneOf("starttls", p.STARTTLS, []StartTLSPolicy{Opportunistic, Required, Never}),
		catalog.OneOf("sni", p.SNI, []SNIPolicy{SNIMX, SNINone, SNIDANE, SNIMTASTS}),
		catalog.OneOf("verify.mta_sts_match", p.Verify.MTASTSMatch, []STSMatch{"", STSMatchMX, STSMatchCertificate}),
		catalog.OneOf("tls.min_version", p.TLS.MinVersion, versions),
		catalog.OneOf("tls.max_version", p.TLS.MaxVersion, versions),
		catalog.OneOf("tls.refuse_below", p.TLS.RefuseBelow, versions),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	for i, c := range p.Verify.DANEChecks {
		if err := catalog.OneOf(fmt.Sprintf("verify.dane_checks[%d]", i), c, []string{"validity", "names"}); err != nil {
			return err
		}
	}
	for i, id := range p.TLS.AnonymousSuites {
		if !regexp.MustCompile(`^[0-9a-f]{4}$`).MatchString(id) {
			return fmt.Errorf("tls.anonymous_suites[%d]: %q is not a 4-digit hex suite id", i, id)
		}
	}
	for i, g := range p.TLS.Groups {
		if _, ok := tlsname.GroupID(g); !ok {
			return fmt.Errorf("tls.groups[%d]: %q is not a group's IANA name (x25519, secp256r1, ...)", i, g)
		}
	}
	if err := catalog.CheckTemplate("delivered", p.Delivered, messagePlaceholders...); err != nil {
		return err
	}
	if err := catalog.CheckTemplate("delivered_plaintext", p.DeliveredPlaintext, messagePlaceholders...); err != nil {
		return err
	}
	keys := make([]string, 0, len(p.On))
	for f := range p.On {
		keys = append(keys, string(f))
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := result.Reason(k)
		if err := catalog.OneOf("on", f, result.Failures); err != nil {
			return err
		}
		r := p.On[f]
		if err := r.validate("on."+k, p.Evidence["on."+k] != ""); err != nil {
			return err
		}
	}
	for _, f := range result.Failures {
		if _, ok := p.On[f]; !ok {
			return fmt.Errorf("on.%s: missing (every failure needs a reaction)", f)
		}
	}
	for k := range p.Evidence {
		if !evidenceKey(k) {
			return fmt.Errorf("evidence: unknown key %q (want starttls, sni, tls, verify, delivered or on.<failure>)", k)
		}
	}
	return nil
}

// validate checks a reaction at key; evidenced says whether the profile
// cites evidence for it.
func (r *Reaction) validate(key string, evidenced bool) error {
	if err := catalog.OneOf(key+".outcome", r.Outcome, result.Outcomes); err != nil {
		return err
	}
	if err := catalog.CheckTemplate(key+".message", r.Message, messagePlaceholders...); err != nil {
		return err
	}
	for i, l := range r.Later {
		if _, err := ParseISODuration(l.After); err != nil {
			return fmt.Errorf("%s.later[%d].after: %w", key, i, err)
		}
		if err := catalog.OneOf(fmt.Sprintf("%s.later[%d].outcome", key, i), l.Outcome, result.Outcomes); err != nil {
			return err
		}
	}
	if !evidenced && strings.TrimSpace(r.Assumed) == "" {
		return fmt.Errorf("%s: no evidence (evidence.%s) and no assumed: say what the reaction is modelled on", key, key)
	}
	for _, v := range []struct {
		name string
		r    *Reaction
	}{{"dane", r.DANE}, {"sts", r.STS}} {
		if v.r == nil {
			continue
		}
		if v.r.DANE != nil || v.r.STS != nil {
			return fmt.Errorf("%s.%s: a variant reaction cannot have variants of its own", key, v.name)
		}
		if err := v.r.validate(key+"."+v.name, evidenced); err != nil {
			return err
		}
	}
	return nil
}

func evidenceKey(k string) bool {
	switch k {
	case "starttls", "sni", "tls", "verify", "delivered":
		return true
	}
	f, ok := strings.CutPrefix(k, "on.")
	return ok && catalog.OneOf("", result.Reason(f), result.Failures) == nil
}

// Unconfirmed lists the behaviour keys that carry no evidence.
func (p *Profile) Unconfirmed() []string {
	var out []string
	keys := []string{"starttls", "sni", "tls", "verify", "delivered"}
	for _, f := range result.Failures {
		keys = append(keys, "on."+string(f))
	}
	for _, k := range keys {
		if strings.TrimSpace(p.Evidence[k]) == "" {
			out = append(out, k)
		}
	}
	return out
}

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Catalogue is a validated set of profiles.
type Catalogue struct{ list catalog.List[*Profile] }

// ErrUnknown is wrapped by errors for a profile name not in the catalogue.
var ErrUnknown = catalog.ErrUnknown

// order is the built-in profiles' display order (the README's matrix).
var order = []string{"gmail", "proton", "outlook", "postfix-may", "postfix-encrypt", "postfix-dane", "postfix-verify", "postfix-mta-sts", "exim", "sendmail"}

// Builtin returns the embedded profiles.
func Builtin() (*Catalogue, error) { return Load(nil) }

// Load returns the built-in profiles plus those in each directory.
func Load(dirs []string) (*Catalogue, error) {
	c := &Catalogue{list: catalog.List[*Profile]{Name: func(p *Profile) string { return p.Name }}}
	if err := catalog.ReadDir(builtinFS, "", "builtin", c.add); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	rank := func(name string) int {
		for i, n := range order {
			if n == name {
				return i
			}
		}
		return len(order)
	}
	sort.SliceStable(c.list.Items, func(i, j int) bool { return rank(c.list.Items[i].Name) < rank(c.list.Items[j].Name) })
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("profiles: profile directory: %w", err)
		}
		if err := catalog.ReadDir(os.DirFS(dir), dir, ".", c.add); err != nil {
			return nil, fmt.Errorf("profiles: %w", err)
		}
	}
	return c, nil
}

func (c *Catalogue) add(file string, data []byte) error {
	p := &Profile{}
	if err := strictyaml.Decode(data, p); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	p.File = file
	if prev, err := c.list.Get(p.Name); err == nil {
		return fmt.Errorf("%s: profile %q is already defined in %s", file, p.Name, prev.File)
	}
	c.list.Items = append(c.list.Items, p)
	return nil
}

// All returns the profiles in display order.
func (c *Catalogue) All() []*Profile { return append([]*Profile(nil), c.list.Items...) }

// Names returns the profile names in display order.
func (c *Catalogue) Names() []string { return c.list.Names() }

// Get returns the named profile; the error lists the valid names.
func (c *Catalogue) Get(name string) (*Profile, error) {
	p, err := c.list.Get(name)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return p, nil
}

// Select returns the named profiles in display order, or all of them.
func (c *Catalogue) Select(names []string) ([]*Profile, error) {
	out, err := c.list.Select(names)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return out, nil
}

// Provenance says where a text the sender predicts comes from.
type Provenance string

// Provenances of a predicted text.
const (
	// Measured: the real sender was run and logged it (evidence
	// "measured: ...").
	Measured Provenance = "measured"
	// Documented: a source file, a vendor document or a public report
	// gives it.
	Documented Provenance = "documented"
	// Reconstructed: no evidence backs it (the reaction says what it is
	// assumed from); never to be shown as the sender's words.
	Reconstructed Provenance = "reconstructed"
	// Observed: not the sender's template but what this attempt saw
	// (the server's reply, a network error), in mxlab's words.
	Observed Provenance = "observed"
)

// TextProvenance is where the text behind a behaviour key ("delivered",
// "on.<failure>") comes from, read from its evidence.
func (p *Profile) TextProvenance(key string) Provenance {
	ev := strings.TrimSpace(p.Evidence[key])
	switch {
	case ev == "":
		return Reconstructed
	case strings.HasPrefix(ev, "measured"):
		return Measured
	}
	return Documented
}
