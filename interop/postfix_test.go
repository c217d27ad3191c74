package interop

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postfixTools are the Debian Postfix programs the test drives.
type postfixTools struct {
	master, postfix, postconf, sendmail string
	version                             string
}

// needPostfix finds Postfix, failing the test with the install command
// when it is missing (unless MXLAB_SKIP_REAL_PEERS=1).
func needPostfix(t *testing.T) postfixTools {
	t.Helper()
	p := postfixTools{
		master:   "/usr/lib/postfix/sbin/master",
		postfix:  "/usr/sbin/postfix",
		postconf: "/usr/sbin/postconf",
		sendmail: "/usr/sbin/sendmail",
	}
	for _, path := range []string{p.master, p.postfix, p.postconf, p.sendmail} {
		if fi, err := os.Stat(path); err != nil || fi.Mode()&0o111 == 0 {
			skipOrFail(t, "interop: Postfix is not installed ("+path+" missing)", installHint)
		}
	}
	p.version = strings.TrimSpace(run(t, 10*time.Second, p.postconf, "-h", "-d", "mail_version"))
	return p
}

// minimalBackoff is the instance's minimal_backoff_time in seconds: short,
// so that the plaintext fallback at may comes within the test
// (interop-recipe.md §6a, §8.4). 1s would make the first attempt depend
// on where the second boundary falls, since Postfix counts whole seconds.
const minimalBackoff = 2

// postfixInstance is a private Postfix: its own configuration, queue and
// log directories, run inside the world's namespace so that it resolves
// through the lab's DNS and delivers to the lab's port 25.
type postfixInstance struct {
	w                           *world
	tools                       postfixTools
	dir, etc, spool, data, logs string
}

// masterCF is master.cf with the chroot column n everywhere: a chrooted
// smtp(8) would read $queue_directory/etc/resolv.conf, not the
// namespace's (interop-recipe.md §4, §8.3). postlog serves maillog_file
// (§8.2). No inet service: nothing listens, injection is by sendmail.
const masterCF = `pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// newPostfix lays out an instance under a temporary directory and lets
// `postfix check` create its queue tree (interop-recipe.md §4).
func newPostfix(t *testing.T, w *world, tools postfixTools) *postfixInstance {
	t.Helper()
	dir := t.TempDir()
	// Postfix's unprivileged daemons (user postfix) must reach the queue
	// below this directory; t.TempDir makes its directories 0700.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &postfixInstance{w: w, tools: tools, dir: dir, etc: filepath.Join(dir, "etc"),
		spool: filepath.Join(dir, "spool"), data: filepath.Join(dir, "data"), logs: filepath.Join(dir, "log")}
	for _, d := range []string{p.etc, p.spool, p.data, p.logs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pu, err := user.Lookup("postfix")
	if err != nil {
		skipOrFail(t, "interop: no postfix user", installHint)
	}
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)
	if err := os.Chown(p.data, uid, gid); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(w.layout.CACert)
	if err != nil {
		t.Fatalf("interop: lab CA: %v", err)
	}
	p.write(t, "ca.pem", string(ca))
	p.write(t, "master.cf", masterCF)
	p.configure(t, "check", nil)
	run(t, 30*time.Second, tools.postfix, "-c", p.etc, "check")
	return p
}

// write writes a file of the instance's configuration, dated an hour
// back: Postfix re-reads a file younger than a second until it "cools
// down" (postfix-3.7 src/util/dict.c, dict_load_file_xt), which would
// slow every process start (lab/realpeers_test.go does the same).
func (p *postfixInstance) write(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join(p.etc, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
}

// configure writes main.cf for one run (interop-recipe.md §4) and the TLS
// policy: one line per recipient domain at the run's level. The policy
// key is the next-hop, which is the recipient domain here (no transport
// with a port, so no ":port" key is needed, §8.6). The global level is
// none, so that a cell whose key does not match shows as plaintext at
// once instead of borrowing the level.
func (p *postfixInstance) configure(t *testing.T, name string, policy map[string]string) {
	t.Helper()
	main := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + p.spool,
		"data_directory = " + p.data,
		"myhostname = client.lab.test",
		"mydomain = lab.test",
		"myorigin = $myhostname",
		"mydestination =",
		"relayhost =",
		"inet_interfaces = loopback-only",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"alias_maps =",
		"alias_database =",
		"biff = no",
		"append_dot_mydomain = no",
		// maillog_file is refused outside /var and /dev/stdout unless
		// its prefix is allowed (§8.2).
		"maillog_file_prefixes = " + p.dir,
		"maillog_file = " + p.logPath(name),
		// Ask for DNSSEC; Postfix sets RES_TRUSTAD itself (§6c).
		"smtp_dns_support_level = dnssec",
		"smtp_host_lookup = dns",
		"smtp_tls_security_level = none",
		"smtp_tls_policy_maps = texthash:" + filepath.Join(p.etc, "tls_policy"),
		"smtp_tls_loglevel = 1",
		"smtp_tls_CAfile = " + filepath.Join(p.etc, "ca.pem"),
		// One delivery per connection, so each log line and each lab
		// session belongs to one cell (§8.10).
		"smtp_connection_cache_on_demand = no",
		// Bounce notices to the envelope sender are not part of the
		// measurement: discard them (transport below).
		"transport_maps = texthash:" + filepath.Join(p.etc, "transport"),
		// The plaintext fallback at may comes only once the message has
		// waited minimal_backoff_time (§6a, §8.4).
		"queue_run_delay = 1s",
		fmt.Sprintf("minimal_backoff_time = %ds", minimalBackoff),
		fmt.Sprintf("maximal_backoff_time = %ds", minimalBackoff),
	}
	// main.cf takes no trailing comments: a '#' after a value would be
	// part of it (§4).
	p.write(t, "main.cf", strings.Join(main, "\n")+"\n")
	var lines []string
	for dest, level := range policy {
		lines = append(lines, dest+" "+level)
	}
	p.write(t, "tls_policy", strings.Join(lines, "\n")+"\n")
	p.write(t, "transport", "client.lab.test discard:\n")
}

func (p *postfixInstance) logPath(name string) string {
	return filepath.Join(p.logs, name+".log")
}

// postfixRun is one run of the instance: its window in time and every
// delivery attempt it logged.
type postfixRun struct {
	name       string
	start, end time.Time
	deliveries []Delivery
	log        string
}

// deliver runs the instance once: configure, start master, inject one
// message per recipient, wait until done says the log is complete (or a
// deadline passes), stop master, and empty the queue.
func (p *postfixInstance) deliver(t *testing.T, name string, policy map[string]string, rcpts []string, done func([]Delivery) bool) postfixRun {
	t.Helper()
	r := postfixRun{name: name, log: p.logPath(name), start: time.Now()}
	p.configure(t, name, policy)

	// master -w returns once the daemon has initialised; faster than
	// `postfix start` and its checks (§8.9).
	argv := []string{p.tools.master, "-c", p.etc, "-w"}
	if out, code := p.w.nsRun(t, 20*time.Second, "", argv...); code != 0 {
		t.Fatalf("interop: %s exit %d: %s", strings.Join(argv, " "), code, out)
	}
	pid := p.masterPID(t)
	p.w.pids.remember(t, pid, argv)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopMaster(pid)
		}
	}
	t.Cleanup(stop)

	for _, rcpt := range rcpts {
		msg := fmt.Sprintf("From: <sender@client.lab.test>\nTo: <%s>\nSubject: mxlab interop %s\n\nA test message from Postfix.\n", rcpt, name)
		// sendmail and postconf take the instance with -C/-c; without it
		// they read /etc/postfix/main.cf (§8.1).
		if out, code := p.w.nsRun(t, 10*time.Second, msg, p.tools.sendmail, "-C", p.etc, "-f", "sender@client.lab.test", rcpt); code != 0 {
			t.Fatalf("interop: sendmail to %s: exit %d: %s", rcpt, code, out)
		}
	}

	deadline := time.Now().Add(25 * time.Second)
	for {
		r.deliveries = p.readLog(t, r.log)
		if done(r.deliveries) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("interop: %s: the maillog is incomplete after 25s (see the table)", name)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	r.deliveries = p.readLog(t, r.log)
	p.emptyQueue(t)
	r.end = time.Now()
	return r
}

func (p *postfixInstance) readLog(t *testing.T, path string) []Delivery {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := ParseMaillog(f)
	if err != nil {
		t.Fatalf("interop: %s: %v", path, err)
	}
	return ds
}

// masterPID reads the running master's PID from the queue's pid
// directory.
func (p *postfixInstance) masterPID(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.spool, "pid", "master.pid"))
	if err != nil {
		t.Fatalf("interop: master.pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		t.Fatalf("interop: master.pid: %q", data)
	}
	return pid
}

// stopMaster stops a master started with -w (not the test's child: it
// detached), like `postfix stop`: SIGTERM to master.pid, which stops its
// children; SIGKILL to its process group if it is still there after 10s.
func stopMaster(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			killGroup(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// emptyQueue drops every queued message of the stopped instance, so the
// next run starts empty. Files are deleted directly: `postsuper -d ALL`
// on a stopped instance cannot open the root-owned maillog_file and
// sleeps (interop-recipe.md §8.8).
func (p *postfixInstance) emptyQueue(t *testing.T) {
	t.Helper()
	for _, q := range []string{"incoming", "active", "deferred", "defer", "bounce", "hold", "maildrop", "trace", "flush", "saved", "corrupt"} {
		_ = filepath.WalkDir(filepath.Join(p.spool, q), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				_ = os.Remove(path)
			}
			return nil
		})
	}
}
