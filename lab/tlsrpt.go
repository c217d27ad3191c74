package lab

import (
	"strings"

	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/tlsrpt"
)

// MailedReports returns a hook for msgstore.Config.OnDeliver that keeps
// TLS-RPT reports mailed to the lab (RFC 8460 §3, rua=mailto:; §5.3): each
// message with a recipient at the report mailbox of the lab zone zone
// (Layout.TLSRPT.Mailbox) is read back with raw (the opened store's Raw),
// parsed by tlsrpt.FromMessage and added to reports, the store the lab is
// given as Config.TLSRPT, so that mailed and POSTed reports are listed
// together. A message that is no report stays in the message store all
// the same; onErr, when set, hears why it was not kept as one.
func MailedReports(zone string, reports *tlsrpt.Store, raw func(id string) ([]byte, error), onErr func(msgstore.Message, error)) func(msgstore.Message) {
	mailbox := tlsrptLocal + "@" + tlsrptHostName(strings.TrimSuffix(strings.ToLower(zone), "."))
	return func(m msgstore.Message) {
		if !toMailbox(m.To, mailbox) {
			return
		}
		data, err := raw(m.ID)
		var rep *tlsrpt.Report
		if err == nil {
			rep, err = tlsrpt.FromMessage(data)
		}
		if err != nil {
			if onErr != nil {
				onErr(m, err)
			}
			return
		}
		reports.Add(rep, tlsrpt.ViaMailto)
	}
}

// toMailbox reports whether a recipient is the mailbox. The domain is
// compared without case (RFC 5321 §2.4), and so is the local part, which
// the lab itself chose.
func toMailbox(rcpts []string, mailbox string) bool {
	for _, r := range rcpts {
		if strings.EqualFold(strings.Trim(r, "<>"), mailbox) {
			return true
		}
	}
	return false
}
