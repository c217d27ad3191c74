package interop

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sendmailPkgs are Debian 12's sendmail 8.17 packages.
var sendmailPkgs = []string{"sendmail-bin", "sendmail-base", "sendmail-cf"}

// sendmailMC is Debian 12's sendmail.mc (sendmail-cf 8.17.1.9,
// /usr/share/sendmail/cf/debian/sendmail.mc) with the TLS defines of
// Debian's /etc/mail/tls/starttls.m4, the listener, the host name and
// two lab changes: a sender domain that does not resolve is accepted
// (client.lab.test is not in the lab's zone), and hosts are looked up in
// /etc/hosts only.
const sendmailMC = `divert(-1)dnl
divert(0)dnl
define(` + "`_USE_ETC_MAIL_'" + `)dnl
include(` + "`{cf}/m4/cf.m4'" + `)dnl
VERSIONID(` + "`$Id: sendmail.mc, v 8.17.1.9-2+deb12u2 2024-06-16 21:07:57 cowboy Exp $'" + `)
OSTYPE(` + "`debian'" + `)dnl
DOMAIN(` + "`debian-mta'" + `)dnl
FEATURE(` + "`no_default_msa'" + `)dnl
DAEMON_OPTIONS(` + "`Family=inet,  Name=MTA-v4, Port=25, Addr={addr}'" + `)dnl
define(` + "`confPRIVACY_FLAGS'" + `,dnl
` + "`needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings'" + `)dnl
define(` + "`confCONNECTION_RATE_THROTTLE', `15'" + `)dnl
define(` + "`confCONNECTION_RATE_WINDOW_SIZE',`10m'" + `)dnl
FEATURE(` + "`use_cw_file'" + `)dnl
FEATURE(` + "`access_db', `hash -o -T<TMPF> /etc/mail/access', `skip'" + `)dnl
FEATURE(` + "`greet_pause', `1000'" + `)dnl
FEATURE(` + "`delay_checks', `friend', `n'" + `)dnl
define(` + "`confBAD_RCPT_THROTTLE',`3'" + `)dnl
FEATURE(` + "`conncontrol', `nodelay', `terminate'" + `)dnl
FEATURE(` + "`ratecontrol', `nodelay', `terminate'" + `)dnl
FEATURE(` + "`accept_unresolvable_domains'" + `)dnl
define(` + "`confCACERT_PATH', `/etc/ssl/certs'" + `)dnl
define(` + "`confCACERT', `/etc/mail/tls/cert.pem'" + `)dnl
define(` + "`confSERVER_CERT', `/etc/mail/tls/cert.pem'" + `)dnl
define(` + "`confSERVER_KEY', `/etc/mail/tls/key.pem'" + `)dnl
define(` + "`confDOMAIN_NAME', `{host}'" + `)dnl
define(` + "`confPID_FILE', `{pidfile}'" + `)dnl
define(` + "`confSERVICE_SWITCH_FILE', `/etc/mail/service.switch'" + `)dnl
define(` + "`confHOSTS_FILE', `/etc/hosts'" + `)dnl
MAILER_DEFINITIONS
MAILER(` + "`local'" + `)dnl
MAILER(` + "`smtp'" + `)dnl
`

// unpackSendmail unpacks sendmail and points the m4 files that include
// others by their installed path (/usr/share/sendmail/cf/...) into the
// unpacked root.
func unpackSendmail(t *testing.T) string {
	t.Helper()
	root := unpackDebs(t, sendmailPkgs...)
	cf := filepath.Join(root, "usr/share/sendmail/cf")
	err := filepath.WalkDir(cf, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(path, ".m4") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data), "/usr/share/sendmail/cf/") {
			return err
		}
		return os.WriteFile(path, []byte(strings.ReplaceAll(string(data), "/usr/share/sendmail/cf/", cf+"/")), 0o644)
	})
	if err != nil {
		t.Fatalf("interop: sendmail-cf: %v", err)
	}
	return root
}

// sendmailServer is one sendmail daemon: the no-starttls scenario's
// (srv_features S: STARTTLS not offered) or STARTTLS configured without
// a certificate (the no-shared-cipher incident's configuration).
type sendmailServer struct {
	addr, host string
	// certFile and keyFile are copied to /etc/mail/tls ("" for none:
	// the files are missing).
	certFile, keyFile string
	// noStartTLS sets Srv_Features S in the access map.
	noStartTLS bool
}

// startSendmail runs Debian's sendmail 8.17 (unpacked from root) as a
// daemon in the foreground (-bD) on addr:25 inside the namespace, in a
// private mount namespace (privateRootScript). Mail is queued, never
// delivered (DeliveryMode=q).
func startSendmail(t *testing.T, w *world, root string, s sendmailServer) {
	t.Helper()
	dir := t.TempDir()
	cf := filepath.Join(root, "usr/share/sendmail/cf")
	mc := strings.NewReplacer("{cf}", cf, "{addr}", s.addr, "{host}", s.host, "{pidfile}", filepath.Join(dir, "sendmail.pid")).Replace(sendmailMC)
	if err := os.WriteFile(filepath.Join(dir, "sendmail.mc"), []byte(mc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfText := run(t, 30*time.Second, "m4", filepath.Join(dir, "sendmail.mc"))
	if err := os.WriteFile(filepath.Join(dir, "sendmail.cf"), []byte(cfText), 0o644); err != nil {
		t.Fatal(err)
	}
	// Debian's default access map, plus the workaround of the incident.
	access := "Connect:localhost.localdomain\tRELAY\nConnect:localhost\tRELAY\nConnect:127.0.0.1\tRELAY\n"
	if s.noStartTLS {
		access += "Srv_Features:\tS\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "access"), []byte(access), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "usr/libexec/sendmail")
	tlsFiles := ""
	if s.certFile != "" {
		tlsFiles = fmt.Sprintf("cp %s /etc/mail/tls/cert.pem; cp %s /etc/mail/tls/key.pem; chmod 600 /etc/mail/tls/key.pem\n", s.certFile, s.keyFile)
	}
	script := privateRootScript(w.ns, filepath.Join(dir, "ovl")) + `
getent group smmta >/dev/null || groupadd -r smmta; getent passwd smmta >/dev/null || useradd -r -g smmta -d /var/lib/sendmail -s /usr/sbin/nologin smmta
getent group smmsp >/dev/null || groupadd -r smmsp; getent passwd smmsp >/dev/null || useradd -r -g smmsp -d /var/lib/sendmail -s /usr/sbin/nologin smmsp
mkdir -p /etc/mail/tls /var/spool/mqueue /var/spool/mqueue-client /var/lib/sendmail
chmod 700 /var/spool/mqueue; chmod 755 /etc/mail
printf '%s\n' ` + s.host + ` > /etc/mail/local-host-names
printf 'postmaster: root\nMAILER-DAEMON: postmaster\n' > /etc/mail/aliases
printf 'hosts\tfiles\naliases\tfiles\n' > /etc/mail/service.switch
# sendmail sleeps and retries while its unqualified host name has no
# qualified form: give it one (in the overlay's /etc/hosts).
echo "127.0.0.1 $(hostname).mxlab.test $(hostname)" >> /etc/hosts
cp ` + filepath.Join(root, "etc/mail/helpfile") + ` /etc/mail/helpfile
cp ` + filepath.Join(dir, "sendmail.cf") + ` /etc/mail/sendmail.cf
` + tlsFiles + bin + `/makemap hash /etc/mail/access < ` + filepath.Join(dir, "access") + `
` + bin + `/sendmail -C /etc/mail/sendmail.cf -bi >/dev/null 2>&1 || true
# -bD: in the foreground, so that it stays the test's child.
` + bin + `/sendmail -C /etc/mail/sendmail.cf -bD -O DeliveryMode=q
`
	d := w.startDaemon(t, nil, nil, "unshare", "-m", "--propagation", "private", "bash", "-c", script)
	// bash execs its last command, and the daemon then sets its title:
	// record that too, so that the sweep of a killed run finds it.
	w.pids.remember(t, d.cmd.Process.Pid, []string{"sendmail: MTA: accepting connections"})
	w.waitListen(t, s.addr+":25", d)
}
