package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/scenarios"
)

// stsResolverAddr is where mta-sts-daemon listens in the namespace: its
// default (postfix-mta-sts-resolver defaults.py, HOST and PORT).
const stsResolverAddr = "127.0.0.1:8461"

// stsLevel is the fidelity level of Postfix with postfix-mta-sts-resolver:
// smtp_tls_security_level may everywhere, and the policy of
// mta-sts-daemon's socketmap where it has one (Debian's README: the map
// name "postfix" is its default zone).
var stsLevel = levelSetup{
	main: []string{
		"smtp_tls_security_level = may",
		"smtp_tls_policy_maps = socketmap:inet:" + stsResolverAddr + ":postfix",
	},
	domains: stsDomains,
}

// stsDomains: a scenario with an MTA-STS policy publishes it for its own
// domain only (_mta-sts.<domain>, RFC 8461 §3.1), so Postfix and the
// prediction both deliver there, with local parts of their own; the
// other scenarios' cells go below it, as at the other levels ("sts.",
// never "mta-sts.", the name of the policy host).
func stsDomains(site *lab.Site) (domain, predTo string) {
	if site.MTASTS != nil {
		return site.Domain, "pred@" + site.Domain
	}
	return "sts." + site.Domain, "rcpt@pred-sts." + site.Domain
}

func init() { levelSetups["mta-sts"] = stsLevel }

// TestFidelityPostfixMTASTS delivers to every MX scenario with real
// Postfix 3.7 whose TLS policy comes from Debian's postfix-mta-sts-resolver
// (mta-sts-daemon, in the namespace, asking the lab's DNS and fetching
// the lab's policy hosts on port 443 with the lab CA as its trust
// store), and compares each cell with `mxlab send --profile
// postfix-mta-sts`. Then it measures the daemon's cache
// (measureSTSCache).
func TestFidelityPostfixMTASTS(t *testing.T) {
	began := time.Now()
	tools := needPostfix(t)
	daemon := realpeer.Need(t, realpeer.MTASTSDaemon)
	w := newWorld(t)
	d, log := w.startMTASTSDaemon(t, daemon)
	note := fmt.Sprintf(" with postfix-mta-sts-resolver %s (smtp_tls_policy_maps = socketmap:inet:%s:postfix)", stsResolverVersion(), stsResolverAddr)
	fidelityPostfix(t, w, tools, []string{"mta-sts"}, began, note, "MXLAB_FIDELITY_REPORT_MTASTS")

	measureSTSCache(t, w, d, log)
}

// measureSTSCache asks the daemon again, after Postfix's run, for each
// domain that publishes a policy, and reads in its log whether it looked
// the domain up again or answered from its cache (responder.py,
// is_stale: an entry younger than cache_grace, 60s by default, is
// answered as is, logged "Lookup skipped"). A policy that was fetched,
// whatever its mode, is cached; a fetch that failed caches nothing
// (responder.py stores only VALID and NOT_CHANGED results), so the next
// message makes the daemon look up and fetch again.
func measureSTSCache(t *testing.T, w *world, d *daemon, log string) {
	t.Helper()
	var rows []string
	for _, site := range w.layout.Scenarios {
		if site.MTASTS == nil {
			continue
		}
		skipped, performed := "Lookup skipped: domain = "+site.Domain+"\n", "Lookup PERFORMED: domain = "+site.Domain+"\n"
		text := func() string { return d.out.String() + logText(log) }
		s0, p0 := strings.Count(text(), skipped), strings.Count(text(), performed)
		answer := w.socketmapQuery(t, "postfix "+site.Domain)
		// The daemon logs through a queue: wait for the request's line,
		// bounded, decided by the log.
		deadline := time.Now().Add(phaseDeadline)
		for strings.Count(text(), skipped) == s0 && strings.Count(text(), performed) == p0 {
			if time.Now().After(deadline) {
				t.Fatalf("interop: mta-sts-daemon logged nothing about %s within %s", site.Domain, phaseDeadline)
			}
			time.Sleep(20 * time.Millisecond)
		}
		fromCache := strings.Count(text(), skipped) > s0
		fetched := site.MTASTS.Fault == scenarios.PolicyOK
		rows = append(rows, fmt.Sprintf("| %s | %s, %s | %q | %v |", site.Name, site.MTASTS.Mode, site.MTASTS.Fault, answer, fromCache))
		if fromCache != fetched {
			t.Errorf("mta-sts-daemon asked again for %s (policy host %s): answered from its cache %v, want %v (a fetched policy is cached, a failed fetch is not)",
				site.Domain, site.MTASTS.Fault, fromCache, fetched)
		}
	}
	if len(rows) == 0 {
		t.Logf("the catalogue has no scenario with an MTA-STS policy: the cache was not measured")
		return
	}
	t.Logf("mta-sts-daemon asked again after Postfix's run:\n\n| scenario | policy | answer | from its cache |\n|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

// startMTASTSDaemon runs mta-sts-daemon in the namespace and waits until
// it listens. Its configuration: the internal (in-memory) cache, a fresh
// one per run; the default timeout; SNI on. Its DNS is the namespace's
// resolver (c-ares reads /etc/resolv.conf, which `ip netns exec` binds to
// the namespace's), and its policy fetches trust the lab CA: aiohttp's
// default SSL context is Python's ssl.create_default_context(), which
// loads OpenSSL's default verify paths, and OpenSSL reads those from
// SSL_CERT_FILE when it is set.
func (w *world) startMTASTSDaemon(t *testing.T, daemon string) (*daemon, string) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mta-sts-daemon.yml")
	cfg := fmt.Sprintf(`host: %s
port: %s
reuse_port: true
shutdown_timeout: 1
cache:
  type: internal
  options:
    cache_size: 10000
default_zone:
  strict_testing: false
  timeout: 4
  require_sni: true
`, strings.Split(stsResolverAddr, ":")[0], strings.Split(stsResolverAddr, ":")[1])
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "mta-sts-daemon.log")
	d := w.startDaemon(t, nil, nil, "env", "SSL_CERT_FILE="+w.layout.CACert, daemon, "-c", conf, "-v", "debug", "-l", log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mta-sts-daemon said:\n%s%s", d.out.String(), logText(log))
		}
	})
	w.waitListen(t, stsResolverAddr, d)
	return d, log
}

// socketmapQuery asks the daemon one socketmap request (Postfix's
// socketmap_table(5): netstrings "name key" and "OK value" / "NOTFOUND ")
// from inside the namespace.
func (w *world) socketmapQuery(t *testing.T, req string) string {
	t.Helper()
	c, err := w.nsDialer().Dial(stsResolverAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("interop: mta-sts-daemon: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%d:%s,", len(req), req); err != nil {
		t.Fatalf("interop: mta-sts-daemon: %v", err)
	}
	return readNetstring(t, c)
}

// readNetstring reads one netstring ("len:data,").
func readNetstring(t *testing.T, c net.Conn) string {
	t.Helper()
	var n int
	if _, err := fmt.Fscanf(c, "%d:", &n); err != nil {
		t.Fatalf("interop: mta-sts-daemon: netstring length: %v", err)
	}
	buf := make([]byte, n+1)
	for read := 0; read < len(buf); {
		m, err := c.Read(buf[read:])
		if err != nil {
			t.Fatalf("interop: mta-sts-daemon: netstring: %v", err)
		}
		read += m
	}
	return string(buf[:n])
}

// stsResolverVersion is the installed postfix-mta-sts-resolver's
// version, as dpkg knows it.
func stsResolverVersion() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "postfix-mta-sts-resolver").Output()
	if err != nil {
		return "(version unknown)"
	}
	return strings.TrimSpace(string(out))
}

// logText is a log file's text so far, "" while there is none.
func logText(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
