package explain

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mxlab/mxlab/scenarios"
)

// labZone is the zone `mxlab serve` uses by default (lab.DefaultZone;
// docs/contracts.md, the lab manifest).
const labZone = "mxlab.test"

// failingProfiles lists, per scenario, the sender profiles that fail there,
// in the order a reproduction prefers them (the incidents and lessons in
// scenarios/builtin/*.yaml). A profile
// that delivers there cannot reproduce a failure.
var failingProfiles = map[string][]string{
	// Only a sender that puts the MX name in SNI trips GnuTLS's rule.
	"sni-reject":       {"gmail"},
	"no-shared-cipher": {"gmail", "postfix-may", "exim", "sendmail", "outlook", "proton", "postfix-encrypt", "postfix-verify", "postfix-dane"},
	// The domain publishes no TLSA, so only senders that require TLS by policy defer.
	"no-starttls": {"postfix-encrypt", "postfix-verify"},
	// Only verifying senders notice a self-signed certificate.
	"self-signed":   {"postfix-verify"},
	"tlsa-mismatch": {"postfix-dane", "outlook", "proton"},
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

// scenarioPorts reads each scenario's default port from the built-in
// catalogue, the one place the lab's ports are written down.
var scenarioPorts = sync.OnceValue(func() map[string]int {
	ports := map[string]int{}
	cat, err := scenarios.Builtin()
	if err != nil {
		return ports
	}
	for _, s := range cat.All() {
		ports[s.Name] = s.Port
	}
	return ports
})

// profileFor picks the profile that reproduces scenario for a text written
// by source: the source's own profile if it fails there, else another
// profile of the same MTA, else the scenario's first failing profile.
func profileFor(scenario, source string) string {
	failing := failingProfiles[scenario]
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
func reproduceCommand(scenario, source, side, peer string) string {
	if scenario == "" {
		return ""
	}
	to := fmt.Sprintf("postmaster@%s.%s", scenario, labZone)
	send := func() string {
		who := source
		if side == SideReceiver {
			who = peer
		}
		p := profileFor(scenario, who)
		if p == "" {
			return ""
		}
		return fmt.Sprintf("mxlab send --lab lab.json --profile %s --to %s", p, to)
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
	if tool == "" || scenario == "tlsa-mismatch" {
		return send()
	}
	port, ok := scenarioPorts()[scenario]
	if !ok {
		return send()
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// GnuTLS refuses any server name with a character outside
	// [A-Za-z0-9.-] (docs/real-peers.md §1b), so any underscore name reproduces
	// the proxied _dc-mx.<hex> MX name.
	sni := "_dc-mx." + scenario + "." + labZone
	if scenario == "no-starttls" {
		tool = "swaks" // s_client only says "Didn't find STARTTLS"; swaks --tls says why
	}
	switch tool {
	case "swaks":
		cmd := fmt.Sprintf("swaks --tls --server %s --to %s", addr, to)
		switch scenario {
		case "sni-reject":
			cmd += " --tls-sni " + sni
		case "self-signed":
			cmd += " --tls-verify"
		}
		return cmd
	case "gnutls":
		host, port, _ := strings.Cut(addr, ":")
		cmd := fmt.Sprintf("gnutls-cli --starttls-proto=smtp --port %s", port)
		switch scenario {
		case "sni-reject":
			cmd += " --insecure --sni-hostname " + sni
		case "self-signed":
		default:
			cmd += " --insecure"
		}
		return cmd + " " + host
	}
	cmd := "openssl s_client -starttls smtp -connect " + addr
	switch scenario {
	case "sni-reject":
		cmd += " -servername " + sni
	case "self-signed":
		cmd += " -verify_return_error"
	}
	return cmd
}
