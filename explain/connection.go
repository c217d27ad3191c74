package explain

// What a text says about the TCP connection before TLS: the MX closed or
// reset it without a reply, and at which step of the dialogue, or nothing
// listened at all. The step decides the reading: a connection closed
// before the greeting is an address where nothing speaks SMTP (scenario
// proxied-a, reproduces.yaml phases); after EHLO or STARTTLS it is a
// server that hangs up on this client, which none of the lab's scenarios
// does.

// Steps of the dialogue at which a connection was lost, the keys of
// reproduces.yaml's phases.
const (
	phaseGreeting = "greeting" // before the server's 220 greeting
	phaseEHLO     = "ehlo"     // in reply to EHLO or HELO
	phaseSTARTTLS = "starttls" // in reply to STARTTLS, before "220 Ready to start TLS"
)

// connection is what a text says about the TCP connection.
type connection struct {
	kind  string // KindConnectionLost, KindConnectRefused, or ""
	phase string // one of the phase* constants, for a lost connection
}

var (
	// Postfix smtp(8) (src/smtp/smtp_trouble.c smtp_stream_except:
	// "lost connection with %s while %s", the step named in
	// src/smtp/smtp_proto.c smtp_helo: "receiving the initial server
	// greeting", "performing the EHLO handshake", "receiving the STARTTLS
	// response").
	postfixLost = re(`lost connection with \S+ while (receiving the initial server greeting|performing the (?:EHLO|HELO|LHLO) handshake|receiving the STARTTLS response)`)
	// Exim's smtp transport (src/transports/smtp.c smtp_read_response:
	// EOF or ECONNRESET gives "Remote host closed connection in response
	// to %s", the command being "initial connection" before the greeting).
	eximClosed = re(`Remote host closed connection in response to (initial connection|EHLO|HELO|STARTTLS)`)
	// telnet's own words when the peer closes, with no 220 line before
	// them: the greeting never came.
	telnetClosed = re(`Connected to \S+.*?Connection closed by foreign host`)
	smtpGreeting = re(`(?:^|\s)220[ -]`)
	// A refused TCP connection: Postfix "connect to %s[%s]:%d: Connection
	// refused" (src/smtp/smtp_connect.c), sendmail "Deferred: Connection
	// refused by %s" (sendmail/deliver.c, errstring of ECONNREFUSED).
	connectRefused = re(`\bconnect to \S+: Connection refused|Deferred: Connection refused by \S+`)
)

// connectionWords gate analyze for texts without TLS words (answer.go).
var connectionWords = []string{"lost connection with", "closed connection in response to", "connection closed by foreign host", "connection refused"}

func decodeConnection(text string) connection {
	if m := postfixLost.FindStringSubmatch(text); m != nil {
		return connection{kind: KindConnectionLost, phase: stepPhase(m[1])}
	}
	if m := eximClosed.FindStringSubmatch(text); m != nil {
		return connection{kind: KindConnectionLost, phase: stepPhase(m[1])}
	}
	if m := telnetClosed.FindStringIndex(text); m != nil && !smtpGreeting.MatchString(text[m[0]:m[1]]) {
		return connection{kind: KindConnectionLost, phase: phaseGreeting}
	}
	if connectRefused.MatchString(text) {
		return connection{kind: KindConnectRefused}
	}
	return connection{}
}

var greetingStep = re(`greeting|initial connection`)

// stepPhase names the phase of a Postfix or Exim step.
func stepPhase(step string) string {
	switch {
	case greetingStep.MatchString(step):
		return phaseGreeting
	case containsFold(step, "STARTTLS"):
		return phaseSTARTTLS
	}
	return phaseEHLO
}
