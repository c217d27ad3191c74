package explain

import (
	_ "embed"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/tlsalert"
)

// Candidate is one reading of a text whose decoded parts do not decide a
// single cause: the scenario that reproduces it ("" when none of the lab's
// scenarios does), the cause, and what would tell it apart from the other
// candidates.
type Candidate struct {
	// Scenario is the lab scenario that reproduces this cause, "" for none.
	Scenario string `json:"scenario" yaml:"scenario"`
	// Cause says what would have happened.
	Cause string `json:"cause" yaml:"cause"`
	// TellApart says what to look at to confirm or rule out this cause.
	TellApart string `json:"tell_apart" yaml:"tell_apart"`
	// Reproduce is the command that reproduces it, "" without a scenario.
	Reproduce string `json:"reproduce,omitempty" yaml:"-"`
}

//go:embed candidates.yaml
var candidatesYAML []byte

// kindCandidates holds candidates.yaml: per kind, the candidates in order;
// a key "<kind>/<detail>" holds them for what the text says more (the
// evidence about a certificate, an alert's name) and replaces the kind's.
var kindCandidates = sync.OnceValue(func() map[string][]Candidate {
	var m map[string][]Candidate
	if err := yaml.Unmarshal(candidatesYAML, &m); err != nil {
		panic("explain: candidates.yaml: " + err.Error()) // embedded; TestCandidatesData loads it
	}
	return m
})

// candidates ranks the readings of an answer: the scenario the parts
// decide first (its cause is the answer's first cause), then the kind's
// candidates from candidates.yaml that differ from it, each with its
// reproduction. A scenario the catalogue does not have is left out.
func candidates(a Answer, peer string) []Candidate {
	var out []Candidate
	add := func(c Candidate) {
		if c.Scenario != "" && !isLabScenario(c.Scenario) {
			return
		}
		if slices.ContainsFunc(out, func(o Candidate) bool { return o.Scenario == c.Scenario && o.Cause == c.Cause }) {
			return
		}
		c.Reproduce = reproduceCommand(c.Scenario, a.Source, a.Side, peer, a.Kind)
		out = append(out, c)
	}
	if a.Scenario != "" {
		cause := ""
		if len(a.Causes) > 0 {
			cause = a.Causes[0]
		}
		add(Candidate{Scenario: a.Scenario, Cause: cause, TellApart: "the parts of the text decide it: " + decidedBy(a)})
	}
	if a.Alert != nil && a.sideGuessed {
		// "TLS library problem: ... SSL alert number 48" names no side.
		// Read by the sending side, the receiving server sent the alert
		// (the answer above); read by the receiving server, the sending
		// client did, which for a certificate alert is its verdict on the
		// server's certificate (Mailu/Mailu #181: a PHP client rejecting
		// the chain), what the self-signed scenario reproduces.
		const tell = "the program that wrote the line: postfix/smtp or SSL_connect is the sender's log, postfix/smtpd or SSL_accept the receiver's"
		d := tlsalert.Description(a.Alert.Code)
		if len(a.Causes) > 0 {
			add(Candidate{Scenario: a.Scenario, Cause: "if the sending side wrote it, the receiving server sent the alert: " + a.Causes[0], TellApart: tell})
		}
		other := alertAdviceFor(d, false)
		if sc := other.scenario; len(other.causes) > 0 {
			switch sc {
			case noScenario:
				sc = ""
			case "":
				sc = scenarioFor(KindTLSAlert, d, false)
			}
			add(Candidate{Scenario: sc, Cause: "if the receiving server wrote it, the sending client sent the alert: " + other.causes[0], TellApart: tell})
		}
	}
	if a.reason != "" && len(a.Causes) > 0 {
		// The library named its reason: that reading comes first, and
		// when the reason alone decides the cause (the sender refused the
		// server's DH parameters or its signature), it is the only one.
		sc := a.Scenario
		if sc == "" && a.sideGuessed {
			// Nothing says which side wrote it: the reason's reading
			// from the sending side (reproduces.yaml reasons) first.
			sc = reproducesData().Reasons[a.reason]
		}
		add(Candidate{Scenario: sc, Cause: a.Causes[0], TellApart: "the TLS library names the reason: " + a.reason})
		if reasonDecides[a.reason] {
			return out
		}
	}
	list := kindCandidates()[a.Kind+"/"+a.detail]
	if len(list) == 0 {
		list = kindCandidates()[a.Kind]
	}
	for _, c := range list {
		if c.Scenario != "" && slices.ContainsFunc(out, func(o Candidate) bool { return o.Scenario == c.Scenario }) {
			continue
		}
		add(c)
	}
	if len(out) == 0 {
		cause := ""
		if len(a.Causes) > 0 {
			cause = a.Causes[0]
		}
		add(Candidate{Scenario: a.Scenario, Cause: cause, TellApart: "the parts of the text decide it: " + decidedBy(a)})
	}
	return out
}

// reasonDecides are the library reasons that leave no other reading: the
// sending side's library refused something specific the server sent.
var reasonDecides = map[string]bool{
	reasonDHKeyTooSmall: true,
	reasonBadSignature:  true,
}

// decidedBy says which decoded part decided an answer.
func decidedBy(a Answer) string {
	if a.Alert != nil {
		return "alert " + a.Alert.Name + " from " + a.Source + " (" + a.Side + " side)"
	}
	return a.Kind + " in " + a.Source + "'s words (" + a.Side + " side)"
}
