package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smtpdListener is one inet smtpd service of the receiving Postfix: its
// address (port 25), host name and certificate.
type smtpdListener struct {
	addr, host, certFile, keyFile string
	// opts are more smtpd settings for this listener, as master.cf -o
	// name=value (no spaces).
	opts []string
}

// startReceiver runs a second private Postfix instance (the real
// servers of baseline, self-signed and tlsa-mismatch) with one smtpd per
// listener on addr:25, each with its own myhostname and certificate,
// Debian's banner and TLS at may. Every message is relayed to discard:
// the sender is in mynetworks. It stops when the test ends.
func startReceiver(t *testing.T, w *world, tools postfixTools, ls []smtpdListener) *postfixInstance {
	t.Helper()
	p := newPostfix(t, w, tools)
	main := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + p.spool,
		"data_directory = " + p.data,
		"myhostname = mx.real.mxlab.test",
		"mydomain = mxlab.test",
		"myorigin = $myhostname",
		"mydestination =",
		"relayhost =",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"smtpd_relay_restrictions = permit_mynetworks, reject",
		"local_recipient_maps =",
		"local_transport = discard",
		"default_transport = discard",
		"relay_transport = discard",
		"alias_maps =",
		"alias_database =",
		"biff = no",
		"append_dot_mydomain = no",
		// Debian 12's main.cf (the lab's postfix dialect imitates it).
		"smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)",
		"smtpd_tls_security_level = may",
		"smtpd_tls_loglevel = 1",
		"maillog_file_prefixes = " + p.dir,
		"maillog_file = " + p.logPath("receiver"),
	}
	p.write(t, "main.cf", strings.Join(main, "\n")+"\n")
	master := masterCF
	for _, l := range ls {
		extra := ""
		for _, o := range l.opts {
			extra += " -o " + o
		}
		master += fmt.Sprintf("%s:25 inet n - n - - smtpd -o myhostname=%s -o smtpd_tls_cert_file=%s -o smtpd_tls_key_file=%s%s\n",
			l.addr, l.host, l.certFile, l.keyFile, extra)
	}
	p.write(t, "master.cf", master)

	argv := []string{tools.master, "-c", p.etc, "-w"}
	if out, code := w.nsRun(t, 20*time.Second, "", argv...); code != 0 {
		t.Fatalf("interop: receiving Postfix: %s exit %d: %s", strings.Join(argv, " "), code, out)
	}
	pid := p.masterPID(t)
	w.pids.remember(t, pid, argv)
	t.Cleanup(func() {
		stopMaster(pid)
		p.emptyQueue(t)
	})
	for _, l := range ls {
		w.waitListen(t, l.addr+":25", nil)
	}
	return p
}

// receiverLog is the receiving instance's maillog.
func receiverLog(p *postfixInstance) string { return filepath.Join(p.logs, "receiver.log") }
