package interop

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// eximSenderMacros are the two macros the exim profile's measurement
// changed from Debian's defaults (profiles/builtin/exim.yaml, notes):
// the host name, and the MX targets the dnslookup router ignores, which
// Debian's template sets to loopback and private ranges, among them
// 127.0.0.0/8, where the lab lives. The list is the template's
// (exim4.conf.template, ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS) without
// 127.0.0.0/8.
const eximSenderMacros = `MAIN_HARDCODE_PRIMARY_HOSTNAME = client.lab.test
ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS = <; 0.0.0.0 ; 192.168.0.0/16 ; 172.16.0.0/12 ; 10.0.0.0/8 ; 169.254.0.0/16 ; 255.255.255.255 ; ::/128 ; ::1/128 ; fc00::/7 ; fe80::/10 ; 100::/64
`

// eximRetryRule is the retry rule of Debian's template, and eximRetryNow
// the one the retry step puts in its place: a 1-second cutoff, so that
// the forced attempt that follows is one made after the rule's cutoff,
// which Debian's rule reaches after 4 days (the profile's `later`).
const (
	eximRetryRule   = "F,2h,15m; G,16h,1h,1.5; F,4d,6h"
	eximRetryNow    = "F,1s,1s"
	eximRetryCutoff = time.Second
)

// TestFidelityExim delivers one message to every MX scenario with
// Debian 12's Exim 4.96 (exim4-daemon-light, GnuTLS) as the sender, set
// up as the exim profile's measurement was (Debian's generated
// configuration for an internet site, messages injected with `exim4
// -odf`), in a private namespace beside `mxlab serve`, and compares what
// Exim logged with what `mxlab send --profile exim` predicts.
func TestFidelityExim(t *testing.T) {
	began := time.Now()
	root := unpackDebs(t, eximPkgs...)
	w := newWorld(t)
	fidelityExim(t, w, root, began, "", "MXLAB_FIDELITY_REPORT_EXIM")
}

// fidelityExim runs the Exim fidelity suite in world w; note says how
// the world differs from the default one, and reportEnv names the
// variable that names a file for the table.
func fidelityExim(t *testing.T, w *world, root string, began time.Time, note, reportEnv string) {
	t.Helper()
	version := debPackageVersion(realpeer.Debs(t, "exim4-daemon-light")[0])
	cells := mtaCells(t, w, "exim")
	predictMTA(t, w, cells)
	t.Logf("lab up and predictions done after %s (Exim %s)", time.Since(began).Round(time.Millisecond), version)

	r := startEximSender(t, w, root, cells)
	r.drive(t, cells, func(retry []*mtaCell) string {
		// exim -M takes message ids; the recipient names the -v file.
		var args []string
		for _, c := range retry {
			args = append(args, c.rcpt()+":"+eximMessageID(r.log, c.rcpt()))
		}
		return strings.Join(args, " ")
	})
	assignMTARecords(t, w, r, cells)
	header := fmt.Sprintf("Exim %s (Debian exim4-daemon-light, GnuTLS) as a sender against mxlab's exim profile%s; whole test %s.\n"+
		"Retry rows: Exim's next attempt after a deferral is the profile's `later` after Debian's 4-day retry cutoff; "+
		"the test puts %q in place of the rule's %q and forces the attempt (exim -M) once the first failure is over a second old.\n\n",
		version, note, time.Since(began).Round(100*time.Millisecond), eximRetryNow, eximRetryRule)
	reportMTA(t, r, cells, "Exim", header, reportEnv)
}

// startEximSender sets Exim up inside the namespace and a private mount
// namespace (privateRootScript) and injects one message per cell, each
// delivered at once in its own process (-odf, as the profile's
// measurement did), all at the same time. Its retry step forces one more
// attempt of the given messages (exim -M) under eximRetryNow.
func startEximSender(t *testing.T, w *world, root string, cells []*mtaCell) *mtaRun {
	t.Helper()
	dir := t.TempDir()
	verbose := filepath.Join(dir, "v")
	if err := os.Mkdir(verbose, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("{domains}", "", "{addr}", "127.0.0.1").Replace(eximUpdateConf)
	sbin := filepath.Join(root, "usr/sbin")
	var inject strings.Builder
	for i, c := range cells {
		msg := filepath.Join(dir, fmt.Sprintf("msg%d", i))
		if err := os.WriteFile(msg, []byte(testMessage("Exim", c.rcpt())), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&inject, "exim4 -odf -v -f sender@client.lab.test %s < %s > %s 2>&1 &\n", c.rcpt(), msg, verboseFile(verbose, "first", c.rcpt()))
	}
	script := privateRootScript(w.ns, filepath.Join(dir, "ovl")) + `
# Exim execs itself by its compiled-in path, /usr/sbin/exim4 (for a
# bounce, for -M): the unpacked programs appear there, over the host's.
mount -t overlay overlay -o lowerdir=` + sbin + `:/usr/sbin /usr/sbin
getent group Debian-exim >/dev/null || groupadd -r Debian-exim
getent passwd Debian-exim >/dev/null || useradd -r -g Debian-exim -d /var/spool/exim4 -s /usr/sbin/nologin Debian-exim
echo client.lab.test > /etc/mailname
rm -rf /etc/exim4; cp -a ` + filepath.Join(root, "etc/exim4") + ` /etc/exim4
# The rewrite rules of Debian's configuration read it (exim4-config ships it).
cp ` + filepath.Join(root, "etc/email-addresses") + ` /etc/email-addresses
# The lab's CA is a public CA in the lab's world, as Postfix's
# smtp_tls_CAfile makes it (postfix/lab-client.cf) and mxlab send --lab
# trusts it: Exim's default tls_verify_certificates is the system trust
# store, Debian's bundle. Exim's CV= then says yes where PKIX holds.
cat ` + w.layout.CACert + ` >> /etc/ssl/certs/ca-certificates.crt
cat > /etc/exim4/update-exim4.conf.conf <<'EOF'
` + conf + `EOF
cat > /etc/exim4/exim4.conf.localmacros <<'EOF'
` + eximSenderMacros + `EOF
mkdir -p /var/spool/exim4 /var/log/exim4 /var/mail /var/lib/exim4
chown -R Debian-exim:Debian-exim /var/spool/exim4 /var/log/exim4; chmod 750 /var/spool/exim4; chmod 1777 /var/mail
# Writes /var/lib/exim4/config.autogenerated, Debian's configuration file.
update-exim4.conf
retry() {
  sed -i 's/` + eximRetryRule + `/` + eximRetryNow + `/' /var/lib/exim4/config.autogenerated
  grep -q '` + eximRetryNow + `' /var/lib/exim4/config.autogenerated
  for a in "$@"; do exim4 -v -M "${a##*:}" > ` + verbose + `/retry-"${a%:*}".txt 2>&1 || true; done
  # The forced attempt found the host past its cutoff and marked its
  # retry record expired; a queue run (not forced, as Debian's daemon
  # runs one every 30 minutes) then times the address out.
  exim4 -q >> ` + verbose + `/queue-run.txt 2>&1 || true
}
` + inject.String() + `wait
` + stepScript
	log := filepath.Join(dir, "ovl/var-u/log/exim4/mainlog")
	r := startMTARun(t, w, "exim", log, verbose, script, parseEximLog)
	r.retryAge = eximRetryCutoff
	return r
}

// eximLineRE splits a mainlog line: date, time, message id (4.96's
// 16-character form), the rest.
var eximLineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (?:\[\d+\] )?([0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}) (.*)$`)

// eximFinalRE is a delivery's final line for one address (Exim's spec,
// "Log files": "=>" delivered, "==" deferred, "**" failed), with the
// address and an optional "<original>" that the profiles leave out.
var eximFinalRE = regexp.MustCompile(`^(=>|==|\*\*) (\S+?):?(?: <[^>]*>)?(?: (.*))?$`)

// eximMessageID is the id of the message to rcpt: that of its first
// final line.
func eximMessageID(log, rcpt string) string {
	lines, _ := eximLines(log)
	for _, l := range lines {
		if f := eximFinalRE.FindStringSubmatch(l[1]); f != nil && strings.EqualFold(f[2], rcpt) {
			return l[0]
		}
	}
	return ""
}

// eximLines reads the mainlog as (message id, rest) pairs, skipping lines
// of no message; a missing log is empty.
func eximLines(log string) ([][2]string, error) {
	f, err := os.Open(log)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if m := eximLineRE.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, [2]string{m[1], m[2]})
		}
	}
	return out, sc.Err()
}

// parseEximLog gives each cell the attempts of its message: the
// message's lines, cut after each final line for the cell's recipient
// (one per attempt, whatever the attempts' timing).
func parseEximLog(log string, cells []*mtaCell) error {
	lines, err := eximLines(log)
	if err != nil {
		return err
	}
	for _, c := range cells {
		c.attempts = nil
		id := eximMessageID(log, c.rcpt())
		if id == "" {
			continue
		}
		var pending []string
		for _, l := range lines {
			if l[0] != id || strings.HasPrefix(l[1], "<= ") || l[1] == "Completed" {
				continue
			}
			pending = append(pending, l[1])
			f := eximFinalRE.FindStringSubmatch(l[1])
			if f == nil || !strings.EqualFold(f[2], c.rcpt()) {
				continue
			}
			a := mtaAttempt{Final: strings.TrimSpace(f[1] + " " + f[3]), Lines: pending}
			switch f[1] {
			case "=>":
				// X= names the TLS session's cipher suite (log_selector
				// tls_cipher, on by default).
				a.TLS = strings.Contains(l[1], " X=")
				a.Outcome = outcomePlaintext
				if a.TLS {
					a.Outcome = outcomeDelivered
				}
			case "==":
				a.Outcome = outcomeDeferred
			default:
				a.Outcome = outcomeBounced
			}
			c.attempts = append(c.attempts, a)
			pending = nil
		}
	}
	return nil
}
