package interop

import (
	"slices"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/mxlabtest"
	"github.com/mxlab/mxlab/scenarios"
)

// TestLabAcceptsPostfixDSNParameters sends what real Postfix sends to a
// server that advertises DSN (measured by TestFidelityPostfix, the lab's
// session records of Postfix 3.7.11): its smtp(8) client adds ORCPT to
// every RCPT TO when the EHLO reply lists DSN (postfix-3.7
// src/smtp/smtp_proto.c, "ORCPT=rfc822;..."). RFC 3461 §4 and §5 oblige
// a server that advertises DSN to accept NOTIFY and ORCPT on RCPT and RET
// and ENVID on MAIL. A scenario that lists DSN and then answers
// "504 5.5.4 ORCPT is not implemented" (go-smtp's reply when its
// Server.EnableDSN is off) bounces every message from real Postfix,
// though the sender did nothing wrong.
func TestLabAcceptsPostfixDSNParameters(t *testing.T) {
	l := mxlabtest.Start(t)
	cat, err := scenarios.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mxScenarios {
		t.Run(name, func(t *testing.T) {
			if sc, _ := cat.Get(name); len(sc.Faults) > 0 || sc.SMTP.RequireTLS {
				t.Skipf("%s fails the session on purpose before RCPT (faults or TLS required)", name)
			}
			s := l.Scenario(name)
			d := smtpexpect.Dial(t, s.SMTP)
			d.Expect(220)
			kws := smtpexpect.Keywords(d.Cmd("EHLO client.lab.test", 250))
			if !slices.ContainsFunc(kws, func(kw string) bool { return strings.EqualFold(kw, "DSN") }) {
				t.Skipf("%s does not advertise DSN (%v)", name, kws)
			}
			rcpt := "rcpt@may." + s.Domain
			// Postfix's own lines, from the session records.
			d.Cmd("MAIL FROM:<sender@client.lab.test> SIZE=353", 250)
			d.Send("RCPT TO:<" + rcpt + "> ORCPT=rfc822;" + rcpt)
			if code, lines := d.Reply(); code != 250 {
				t.Errorf("RCPT TO with ORCPT (as Postfix sends it): %q, want 250: EHLO advertised DSN (RFC 3461 §4)", lines)
			}
			d.Cmd("RSET", 250)
			// The other RFC 3461 parameters, as `sendmail -N success -R hdrs -V id` makes Postfix send them.
			d.Send("MAIL FROM:<sender@client.lab.test> RET=HDRS ENVID=mxlab-1")
			if code, lines := d.Reply(); code != 250 {
				t.Errorf("MAIL FROM with RET and ENVID: %q, want 250 (RFC 3461 §4.3, §4.4)", lines)
			} else {
				d.Send("RCPT TO:<" + rcpt + "> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;" + rcpt)
				if code, lines := d.Reply(); code != 250 {
					t.Errorf("RCPT TO with NOTIFY and ORCPT: %q, want 250 (RFC 3461 §4.1, §4.2)", lines)
				}
			}
			d.Cmd("QUIT", 221)
		})
	}
}
