package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// A fault is a scenarios.Fault at one point of a session: the wire layer
// asks for the point's fault where a healthy server would do its normal
// thing, and the fault's action replaces it. Each action is one function
// that puts its bytes on the wire and says why in the record, as sendAlert
// does for the ClientHello rules.

// faultAction applies a fault; done ends the session with end.
type faultAction func(c *conn, f *scenarios.Fault) (end EndReason, done bool)

// faultActions are the actions' functions (scenarios.Actions).
var faultActions = map[scenarios.Action]faultAction{
	scenarios.DoReply: (*conn).faultReply,
	scenarios.DoClose: (*conn).faultClose,
	scenarios.DoReset: (*conn).faultReset,
	scenarios.DoStall: (*conn).faultStall,
	scenarios.DoAlert: (*conn).faultAlert,
}

// compileFaults indexes a scenario's faults by point; ClientHello faults
// join the tls.reject rules, which are checked first.
func compileFaults(sc *scenarios.Scenario, rules []rejection) (map[scenarios.Point]*scenarios.Fault, []rejection, error) {
	out := map[scenarios.Point]*scenarios.Fault{}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if _, ok := faultActions[f.Do]; !ok {
			return nil, nil, fmt.Errorf("server: %s: faults[%d].do: %s has no implementation", sc.Name, i, f.Do)
		}
		if f.At == scenarios.AtClientHello {
			r := rejection{when: f.When, log: f.Log, do: f.Do}
			if r.when == "" {
				r.when = scenarios.Always
			}
			if f.Do == scenarios.DoAlert {
				d, err := tlsalert.ParseDescription(f.Alert)
				if err != nil {
					return nil, nil, fmt.Errorf("server: %s: faults[%d].alert: %w", sc.Name, i, err)
				}
				r.alert = tlsalert.Alert{Level: tlsalert.Fatal, Description: d}
			}
			rules = append(rules, r)
			continue
		}
		if _, dup := out[f.At]; dup {
			return nil, nil, fmt.Errorf("server: %s: faults[%d]: a second fault at %s (one per point)", sc.Name, i, f.At)
		}
		out[f.At] = f
	}
	return out, rules, nil
}

// fault applies the scenario's fault at p, if any; ok says whether there
// was one (its reply then replaced the server's own).
func (c *conn) fault(p scenarios.Point) (end EndReason, done, ok bool) {
	f := c.srv.faults[p]
	if f == nil {
		return "", false, false
	}
	end, done = c.applyFault(f)
	return end, done, true
}

func (c *conn) applyFault(f *scenarios.Fault) (EndReason, bool) {
	why := string(f.Do) + " at " + string(f.At)
	if f.Log != "" {
		why += ": " + f.Log
	}
	c.note("fault: %s", why)
	c.srv.cfg.Logger.Info(c.rec.Scenario+" "+c.rec.ID+": fault: "+why, "remote", c.rec.Remote)
	return faultActions[f.Do](c, f)
}

// faultReply sends the fault's reply; a 421 closes (RFC 5321 §3.8).
func (c *conn) faultReply(f *scenarios.Fault) (EndReason, bool) {
	code := c.reply(splitReply(c.render(f.Reply, vars{})))
	if err := c.flush(); err != nil {
		return c.endFromError(err), true
	}
	if code == 421 {
		return EndClosedByLab, true
	}
	return "", false
}

// faultClose says nothing more and closes with a FIN: what a server with
// no certificate does after "220 Ready to start TLS" (Stalwart, issue
// #135), or a port that accepts and hangs up.
func (c *conn) faultClose(*scenarios.Fault) (EndReason, bool) {
	_ = c.flush()
	if tc, ok := c.raw.(*net.TCPConn); ok && c.tls == nil {
		// FIN now, then read what the client sends until it closes: a
		// close with bytes unread (the ClientHello sent after "220
		// Ready") is an RST (tcp(7)), and whether the client read end of
		// file or a reset depended on timing (a flaky real-sendmail
		// cell: SSL_error=5 instead of 1). "reset" is the fault for RST.
		_ = tc.CloseWrite()
		c.drain(c.srv.cfg.Timeouts.Handshake)
	}
	return EndClosedByLab, true
}

// faultReset closes with a TCP RST: SO_LINGER 0 makes close(2) send RST
// instead of FIN (tcp(7)).
func (c *conn) faultReset(*scenarios.Fault) (EndReason, bool) {
	_ = c.flush()
	if tc, ok := c.raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.resetByLab = true
	return EndClosedByLab, true
}

// faultStall reads and discards whatever the client sends, answering
// nothing, until it gives up or the session's time is over.
func (c *conn) faultStall(*scenarios.Fault) (EndReason, bool) {
	_ = c.flush()
	c.raw.SetReadDeadline(time.Time{})
	_, err := io.Copy(io.Discard, c.raw)
	if err == nil {
		err = io.EOF
	}
	if c.aborted() {
		return EndTimeout, true
	}
	return c.endFromError(err), true
}

// faultAlert sends the fault's alert as a record of the version the
// client is most likely to read (TLS 1.2's, as OpenSSL does before it has
// read a ClientHello), then closes.
func (c *conn) faultAlert(f *scenarios.Fault) (EndReason, bool) {
	d, _ := tlsalert.ParseDescription(f.Alert)
	c.sendAlert(rejection{alert: tlsalert.Alert{Level: tlsalert.Fatal, Description: d}, log: f.Log}, 0x0303)
	c.drain(briefly)
	return EndClosedByLab, true
}

// Address rules: a recipient's or sender's local part picks an SMTP
// failure on every scenario, so that a test can combine a TLS scenario
// with a rejection (docs/address-rules.md; mox's localserve does the same
// for its own names).
var (
	addrRuleRE = regexp.MustCompile(`^(?i)(rcpt-550|rcpt-452|data-451|data-554|mail-421|slow-data-(\d{1,3})s)@`)
)

// commandPoints are the fault points that answer a command.
var commandPoints = map[string]scenarios.Point{"EHLO": scenarios.AtEHLO, "MAIL": scenarios.AtMAIL, "RCPT": scenarios.AtRCPT, "DATA": scenarios.AtDATA}

// maxSlowData bounds slow-data-<N>s: longer than Postfix's default
// smtp_data_done_timeout (600s) would only test the client's patience.
const maxSlowData = 600 * time.Second

// addressRule is the rule an address's local part names, "" for none.
func addressRule(addr string) (rule string, delay time.Duration) {
	m := addrRuleRE.FindStringSubmatch(strings.Trim(addr, "<>"))
	if m == nil {
		return "", 0
	}
	rule = strings.ToLower(m[1])
	if m[2] != "" {
		n, _ := strconv.Atoi(m[2])
		return "slow-data", min(time.Duration(n)*time.Second, maxSlowData)
	}
	return rule, 0
}

// addressReplies are the address rules' replies ({addr} is the address).
var addressReplies = map[string]string{
	"rcpt-550": "550 5.1.1 {addr}: Recipient address rejected: mxlab rule rcpt-550",
	"rcpt-452": "452 4.2.2 {addr}: Recipient address rejected: mxlab rule rcpt-452 (mailbox full)",
	"mail-421": "421 4.7.0 {host} mxlab rule mail-421: closing connection",
	"data-451": "451 4.3.0 mxlab rule data-451: message deferred, try again later",
	"data-554": "554 5.7.1 mxlab rule data-554: message rejected",
}

// addressFault answers MAIL or RCPT for an address with a rule; handled
// says it did (go-smtp never sees the command).
func (c *conn) addressFault(verb, arg string) (end EndReason, done, handled bool) {
	addr := angleAddr(arg)
	rule, delay := addressRule(addr)
	switch {
	case verb == "MAIL" && rule == "mail-421", verb == "RCPT" && strings.HasPrefix(rule, "rcpt-"):
	case verb == "RCPT" && rule != "":
		// A data rule: the recipient is accepted, the end of data is
		// answered by the rule (the first such recipient's).
		if c.dataRule == "" {
			c.dataRule, c.dataDelay = rule, delay
		}
		return "", false, false
	default:
		return "", false, false
	}
	c.note("address rule %s for %s", rule, addr)
	code := c.reply(splitReply(c.render(addressReplies[rule], vars{addr: addr})))
	c.count(verb, code < 400)
	if code == 421 {
		_ = c.flush()
		return EndClosedByLab, true, true
	}
	return "", false, true
}

// resetTransaction forgets the mail transaction (RFC 5321 §4.1.1.5): its
// recipients and any data rule they chose.
func (c *conn) resetTransaction() {
	c.rcpts = 0
	c.dataRule, c.dataDelay = "", 0
}

// dotFault is the fault that answers the end of data instead of go-smtp:
// the scenario's, else a recipient's data rule; nil when the message goes
// to go-smtp as usual.
func (c *conn) dotFault() *scenarios.Fault {
	if f := c.srv.faults[scenarios.AtDot]; f != nil {
		return f
	}
	if text, ok := addressReplies[c.dataRule]; ok {
		return &scenarios.Fault{At: scenarios.AtDot, Do: scenarios.DoReply, Reply: text, Log: "address rule " + c.dataRule}
	}
	return nil
}

// refuseData answers DATA itself for a message a dot fault will refuse:
// 354, the body read and discarded, then the fault. go-smtp never sees
// the transaction's DATA, so nothing is stored; RSET clears its
// recipients.
func (c *conn) refuseData(f *scenarios.Fault) (EndReason, bool) {
	c.write(c.dialectLines(c.srv.cfg.Dialect, scenarios.ReplyData, vars{}, []string{"354 End data with <CR><LF>.<CR><LF>"}))
	if err := c.flush(); err != nil {
		return c.endFromError(err), true
	}
	if err := c.readBody(nil); err != nil {
		return c.endFromError(err), true
	}
	if _, _, err := c.roundTrip("RSET\r\n"); err != nil {
		return c.backendGone(err)
	}
	c.resetTransaction()
	c.count("DATA", false)
	end, done := c.applyFault(f)
	c.errors-- // counted with DATA already
	return end, done
}

// slowData delays the final reply as slow-data-<N>s asks, ending early
// when the session is aborted.
func (c *conn) slowData() error {
	if c.dataRule != "slow-data" || c.dataDelay <= 0 {
		return nil
	}
	c.note("address rule slow-data: final reply delayed by %s", c.dataDelay)
	t := time.NewTimer(c.dataDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return errors.New("session ended while delaying the final reply")
	}
}
