package explain

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// labZone is the zone `mxlab serve` uses by default (lab.DefaultZone;
// docs/contracts.md, the lab manifest).
const labZone = "mxlab.test"

// labScenario is what a reproduction needs to know about one scenario of
// the built-in catalogue. Everything here is read from scenarios/*.yaml:
// no Go code in this package branches on a scenario's name (issue 11).
type labScenario struct {
	port int
	// sni is the server name a client tool must send to trip an SNI rule:
	// the scenario's MX name when its first label is not a valid host name
	// label ("_dc-mx.{hex12}"), else "".
	sni string
	// verify: the certificate is not CA-signed, so a client tool must
	// verify it to fail as a verifying sender does.
	verify bool
	// noSTARTTLS: EHLO does not list STARTTLS; swaks --tls says why, where
	// s_client only says "Didn't find STARTTLS".
	noSTARTTLS bool
	// dane: the scenario publishes TLSA records, which only `mxlab send`
	// (with the lab's resolver) looks up.
	dane bool
	// requireTLS: MAIL before STARTTLS is refused (smtp.require_tls), so
	// a client that does not start TLS reproduces the receiver's refusal
	// even where every profile, all of which offer TLS, delivers.
	requireTLS bool
	// failing lists the profiles that defer or bounce there, by reason
	// (the expectations' reason; "" holds them all), in name order.
	failing map[string][]string
}

// labScenarios reads the built-in catalogue once: the MX scenarios a
// sender can fail at.
var labScenarios = sync.OnceValue(func() map[string]labScenario {
	out := map[string]labScenario{}
	cat, err := scenarios.Builtin()
	if err != nil {
		return out
	}
	var profs []*profiles.Profile
	if pc, err := profiles.Builtin(); err == nil {
		profs = pc.All()
	}
	for _, s := range cat.All() {
		if s.Kind != scenarios.KindMX {
			continue
		}
		ls := labScenario{
			port:       s.Port,
			verify:     s.TLS.Certificate == scenarios.CertSelfSigned,
			noSTARTTLS: !s.SMTP.OffersSTARTTLS(),
			dane:       s.DNS.TLSA != "" && s.DNS.TLSA != scenarios.TLSANone,
			failing:    map[string][]string{},
		}
		if first, _, _ := strings.Cut(s.MX, "."); strings.ContainsFunc(first, func(r rune) bool {
			return !(r == '-' || r == '{' || r == '}' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			ls.sni = first + "." + s.Name + "." + labZone
		}
		ls.requireTLS = s.SMTP.RequireTLS
		for prof, e := range s.Expectations {
			if !e.Outcome.IsDelivery() {
				ls.addFailing(prof, e.Reason)
			}
		}
		if len(s.Expectations) == 0 {
			// A scenario whose expectations are not measured yet: the
			// profiles that defer or bounce on some failure (their `on:`
			// reactions) stand in for them, per reason, so that a
			// reproduction uses a sender that fails for the text's reason.
			for _, p := range profs {
				for r, react := range p.On {
					if failsOn(react, ls.dane) {
						ls.addFailing(p.Name, r)
					}
				}
			}
		}
		if len(ls.failing[""]) == 0 && !ls.requireTLS {
			continue // a scenario every sender delivers to reproduces no failure
		}
		for r := range ls.failing {
			slices.Sort(ls.failing[r])
			ls.failing[r] = slices.Compact(ls.failing[r])
		}
		out[s.Name] = ls
	}
	return out
})

func (ls *labScenario) addFailing(profile string, r result.Reason) {
	ls.failing[""] = append(ls.failing[""], profile)
	if r != "" {
		ls.failing[string(r)] = append(ls.failing[string(r)], profile)
	}
}

// failsOn reports whether a profile's reaction to a failure is to defer
// or bounce; with TLSA records published, a DANE sender's own reaction
// (Reaction.DANE) replaces it.
func failsOn(r profiles.Reaction, dane bool) bool {
	if dane && r.DANE != nil {
		r = *r.DANE
	}
	return r.Outcome != "" && !r.Outcome.IsDelivery()
}

// isLabScenario reports whether name is an MX scenario of the catalogue at
// which some sender fails.
func isLabScenario(name string) bool {
	_, ok := labScenarios()[name]
	return ok
}

// kindReasons maps explain's kinds to the reasons of the catalogue's
// expectations and the profiles' reactions (result.Reason, RFC 8460
// result types where one fits), most specific first, so that a
// reproduction uses a profile that fails for the same reason.
var kindReasons = map[string][]result.Reason{
	KindTLSAlert:                {result.TLSAlert},
	KindHandshakeFailure:        {result.HandshakeFailed, result.TLSAlert},
	KindStartTLSNotSupported:    {result.STARTTLSNotSupported},
	KindStartTLSRefused:         {result.STARTTLSRefused},
	KindCertificateNotTrusted:   {result.CertificateNotTrusted},
	KindCertificateHostMismatch: {result.CertificateHostMismatch},
	KindCertificateExpired:      {result.CertificateExpired},
	KindValidationFailure:       {result.TLSAInvalid},
	KindTLSAInvalid:             {result.TLSAInvalid},
	KindSTSWebPKIInvalid:        {result.CertificateNotTrusted},
	KindConnectionLost:          {result.ConnectionLost},
}

// sourceProfiles maps who wrote a text to the profile that imitates it.
var sourceProfiles = map[string]string{
	"gmail":    "gmail",
	"outlook":  "outlook",
	"proton":   "proton",
	"postfix":  "postfix-may",
	"exim":     "exim",
	"sendmail": "sendmail",
}

// profileFor picks the profile that reproduces scenario for a text written
// by source about a failure of kind: among the profiles that fail there
// for the kind's reason (all failing ones if none does), the source's own
// profile, else another profile of the same MTA, else the first by name.
func profileFor(scenario, source, kind string) string {
	ls, ok := labScenarios()[scenario]
	if !ok {
		return ""
	}
	var failing []string
	for _, r := range kindReasons[kind] {
		if failing = ls.failing[string(r)]; len(failing) > 0 {
			break
		}
	}
	if len(failing) == 0 {
		failing = ls.failing[""]
	}
	if len(failing) == 0 {
		return ""
	}
	if p, ok := sourceProfiles[source]; ok && slices.Contains(failing, p) {
		return p
	}
	for _, p := range failing {
		if source != "" && strings.HasPrefix(p, source+"-") {
			return p
		}
	}
	return failing[0]
}

// reproduceCommand returns the command that reproduces scenario: for a
// text from a sending MTA, `mxlab send` with the matching profile; for a
// text from a TLS client tool, the same tool against the lab's port; for a
// receiver's log, a client that makes the lab's server do what the
// receiver did, or `mxlab send` imitating peer, the sender the log names.
func reproduceCommand(scenario, source, side, peer, kind string) string {
	ls, ok := labScenarios()[scenario]
	if !ok {
		return ""
	}
	to := fmt.Sprintf("postmaster@%s.%s", scenario, labZone)
	addr := fmt.Sprintf("127.0.0.1:%d", ls.port)
	if kind == KindTLSRequired && ls.requireTLS && ls.port != 0 {
		// The refusal of mail sent without TLS: every profile starts
		// TLS, so a client that does not reproduces it (swaks without
		// --tls gets the 530 to MAIL).
		return fmt.Sprintf("swaks --server %s --to %s", addr, to)
	}
	send := func() string {
		who := source
		if side == SideReceiver {
			who = peer
		}
		prof := profileFor(scenario, who, kind)
		if prof == "" {
			return ""
		}
		return fmt.Sprintf("mxlab send --lab lab.json --profile %s --to %s", prof, to)
	}
	tool := ""
	switch {
	case side == SideReceiver:
		tool = "openssl"
	case strings.HasPrefix(source, "openssl"):
		tool = "openssl"
	case source == "swaks" || source == "gnutls":
		tool = source
	}
	// DANE needs the lab's TLSA records and resolver: only mxlab send does that.
	if tool == "" || ls.dane || ls.port == 0 {
		return send()
	}
	if ls.noSTARTTLS {
		tool = "swaks"
	}
	switch tool {
	case "swaks":
		cmd := fmt.Sprintf("swaks --tls --server %s --to %s", addr, to)
		if ls.sni != "" {
			cmd += " --tls-sni " + ls.sni
		}
		if ls.verify {
			cmd += " --tls-verify"
		}
		return cmd
	case "gnutls":
		cmd := fmt.Sprintf("gnutls-cli --starttls-proto=smtp --port %d", ls.port)
		if !ls.verify {
			cmd += " --insecure"
		}
		if ls.sni != "" {
			cmd += " --sni-hostname " + ls.sni
		}
		return cmd + " 127.0.0.1"
	}
	cmd := "openssl s_client -starttls smtp -connect " + addr
	if ls.sni != "" {
		cmd += " -servername " + ls.sni
	}
	if ls.verify {
		cmd += " -verify_return_error"
	}
	return cmd
}

// reproduces is reproduces.yaml: which scenario reproduces a failure when
// the decoded parts decide it.
type reproduces struct {
	Kinds                   map[string]string `yaml:"kinds"`
	Certificates            map[string]string `yaml:"certificates"`
	ServerAlerts            map[string]string `yaml:"server_alerts"`
	ClientAlerts            map[string]string `yaml:"client_alerts"`
	ClientCertificateAlerts struct {
		Scenario string   `yaml:"scenario"`
		Except   []string `yaml:"except"`
	} `yaml:"client_certificate_alerts"`
	Reasons map[string]string `yaml:"reasons"`
	Phases  map[string]string `yaml:"phases"`
	Rules   map[string]string `yaml:"rules"`
}

//go:embed reproduces.yaml
var reproducesYAML []byte

var reproducesData = sync.OnceValue(func() reproduces {
	var r reproduces
	if err := yaml.Unmarshal(reproducesYAML, &r); err != nil {
		panic("explain: reproduces.yaml: " + err.Error()) // embedded; TestReproducesData loads it
	}
	return r
})

// scenarioFor returns the scenario reproduces.yaml names for a kind, or
// for an alert sent by the receiving server (byServer) or by the sending
// client; "" when it names none.
func scenarioFor(kind string, alert tlsalert.Description, byServer bool) string {
	r := reproducesData()
	if kind != KindTLSAlert {
		return r.Kinds[kind]
	}
	if byServer {
		return r.ServerAlerts[alert.String()]
	}
	if s, ok := r.ClientAlerts[alert.String()]; ok {
		return s
	}
	if isCertificateAlert(alert) && !slices.Contains(r.ClientCertificateAlerts.Except, alert.String()) {
		return r.ClientCertificateAlerts.Scenario
	}
	return ""
}
