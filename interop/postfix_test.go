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

	"github.com/mxlab/mxlab/internal/realpeer"
)

// postfixTools are the Debian Postfix programs the test drives.
type postfixTools struct {
	master, postfix, postconf, sendmail, postqueue string
	version                                        string
}

// needPostfix finds Postfix's programs; a missing one ends the test as
// the suite's real-peer policy says (internal/realpeer).
func needPostfix(t *testing.T) postfixTools {
	t.Helper()
	p := postfixTools{
		master:    realpeer.Need(t, realpeer.PostfixMaster),
		postfix:   realpeer.Need(t, realpeer.Postfix),
		postconf:  realpeer.Need(t, realpeer.Postconf),
		sendmail:  realpeer.Need(t, realpeer.PostfixSendmail),
		postqueue: realpeer.Need(t, realpeer.Postqueue),
	}
	p.version = strings.TrimSpace(run(t, 10*time.Second, p.postconf, "-h", "-d", "mail_version"))
	return p
}

// The instance runs each level in two phases, so that which attempt is
// which never depends on how long anything took (issue 8):
//
//   - first attempts: Postfix's default backoff (firstBackoff), which
//     no test run comes near. A message that waited less than
//     minimal_backoff_time when it entered the active queue gets no
//     plaintext fallback at may (postfix-3.7 src/smtp/smtp.h,
//     PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE: PREACTIVE_DELAY >=
//     var_min_backoff_time), and a deferred message waits
//     minimal_backoff_time before its next attempt (src/qmgr/
//     qmgr_active.c), so every message gets exactly one attempt: the one a
//     default Postfix makes.
//   - the retry, on purpose (postfixInstance.retry): minimal_backoff_time
//     lowered to retryBackoff, a reload, `postqueue -f`. Each attempt of
//     a message ends in one status= line per recipient, so attempt n is
//     its queue id's nth status= line (Attempts).
//
// The values keep postconf(5)'s order, queue_run_delay <=
// minimal_backoff_time <= maximal_backoff_time, all non-zero.
var (
	firstBackoff = backoff{min: 300, max: 4000, queueRun: 300}
	retryBackoff = backoff{min: minimalBackoff, max: minimalBackoff, queueRun: minimalBackoff}
)

// minimalBackoff is minimal_backoff_time for the retry, in seconds: the
// least Postfix takes (postfix-3.7 src/smtp/smtp_params.c: minimum 1).
// The retry comes only once every message is older than minimalBackoff+1
// seconds (postfixInstance.retry; the extra second is a margin on
// Postfix's whole-second rounding).
const minimalBackoff = 1

// backoff is the instance's minimal_backoff_time, maximal_backoff_time
// and queue_run_delay, in seconds.
type backoff struct{ min, max, queueRun int }

// phaseDeadline bounds each wait for the maillog. It decides nothing: a
// wait that ends at it fails the test with what the log held. It is well
// below firstBackoff.min, so no message can get a second attempt of its
// own while the first ones are awaited.
const phaseDeadline = 90 * time.Second

// postfixInstance is a private Postfix: its own configuration, queue and
// log directories, run inside the world's namespace so that it resolves
// through the lab's DNS and delivers to the lab's port 25.
type postfixInstance struct {
	w                           *world
	tools                       postfixTools
	dir, etc, spool, data, logs string
	// main are settings written at the end of main.cf, after the ones
	// below, so that they win (levelSetup.main).
	main []string
}

// masterCF is master.cf with the chroot column n everywhere: a chrooted
// smtp(8) would read $queue_directory/etc/resolv.conf, not the
// namespace's (docs/interop-recipe.md §4, §8.3). postlog serves maillog_file
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
// `postfix check` create its queue tree (docs/interop-recipe.md §4).
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
	realpeer.Require(t, err == nil, "interop: no postfix user", realpeer.Postfix.Hint())
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)
	if err := os.Chown(p.data, uid, gid); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(w.layout.CACert)
	if err != nil {
		t.Fatalf("interop: lab CA: %v", err)
	}
	p.write(t, "mxlab-ca.pem", string(ca))
	p.write(t, "master.cf", masterCF)
	p.configure(t, "check", nil, firstBackoff)
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

// configure writes main.cf for one run (docs/interop-recipe.md §4) and the TLS
// policy: one line per recipient domain at the run's level. The policy
// key is the next-hop, which is the recipient domain here (no transport
// with a port, so no ":port" key is needed, §8.6). The global level is
// none, so that a cell whose key does not match shows as plaintext at
// once instead of borrowing the level.
func (p *postfixInstance) configure(t *testing.T, name string, policy map[string]string, b backoff) {
	t.Helper()
	p.writeMain(t, name, b)
	var lines []string
	for dest, level := range policy {
		lines = append(lines, dest+" "+level)
	}
	p.write(t, "tls_policy", strings.Join(lines, "\n")+"\n")
	p.write(t, "transport", "client.lab.test discard:\n")
}

// writeMain writes main.cf: the run's log and the backoff b.
func (p *postfixInstance) writeMain(t *testing.T, name string, b backoff) {
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
		"mynetworks = 127.0.0.0/8",
		"alias_maps =",
		"alias_database =",
		"biff = no",
		"append_dot_mydomain = no",
		// maillog_file is refused outside /var and /dev/stdout unless
		// its prefix is allowed (§8.2).
		"maillog_file_prefixes = " + p.dir,
		"maillog_file = " + p.logPath(name),
		"smtp_tls_security_level = none",
		"smtp_tls_policy_maps = texthash:" + filepath.Join(p.etc, "tls_policy"),
		// Bounce notices to the envelope sender are not part of the
		// measurement: discard them (transport below).
		"transport_maps = texthash:" + filepath.Join(p.etc, "transport"),
		// The plaintext fallback at may comes only once the message has
		// waited minimal_backoff_time (§6a, §8.4): see firstBackoff.
		fmt.Sprintf("queue_run_delay = %ds", b.queueRun),
		fmt.Sprintf("minimal_backoff_time = %ds", b.min),
		fmt.Sprintf("maximal_backoff_time = %ds", b.max),
	}
	// The settings that aim Postfix at the lab (DNSSEC through the
	// lab's DNS, the lab CA as mxlab-ca.pem in the configuration
	// directory, one delivery per connection) are compose.yaml's
	// Postfix's too: one file, read by both.
	main = append(main, labClientSettings(t)...)
	main = append(main, p.main...)
	// main.cf takes no trailing comments: a '#' after a value would be
	// part of it (§4).
	p.write(t, "main.cf", strings.Join(main, "\n")+"\n")
}

// labClientCF is the Postfix client configuration shared with
// compose.yaml's Postfix (postfix/Dockerfile).
const labClientCF = "../postfix/lab-client.cf"

// labClientSettings are the settings of labClientCF, one "name = value"
// each, without its comments.
func labClientSettings(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(labClientCF)
	if err != nil {
		t.Fatalf("interop: the shared Postfix client settings: %v", err)
	}
	var settings []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			settings = append(settings, line)
		}
	}
	return settings
}

func (p *postfixInstance) logPath(name string) string {
	return filepath.Join(p.logs, name+".log")
}

// postfixRun is one run of the instance: its window in time and every
// delivery attempt it logged.
type postfixRun struct {
	name       string
	start, end time.Time
	// retried is when the retry was triggered (`postqueue -f`), zero if
	// the run needed none. Every first attempt had been logged by then,
	// so the lab's sessions that started before it are first attempts'.
	retried    time.Time
	deliveries []Delivery
	log        string
}

// deliver runs the instance once: configure it with firstBackoff, start
// master, inject one message per recipient, and wait until every
// recipient's first attempt is logged. If done does not hold yet, it
// triggers the retry (retry) and waits until done holds. Then it stops
// master and empties the queue. Nothing here is decided by a time: each
// wait ends when the maillog holds the status= lines it waits for, or
// fails the test at phaseDeadline with the lines it held.
func (p *postfixInstance) deliver(t *testing.T, name string, policy map[string]string, rcpts []string, done func([]Delivery) bool) postfixRun {
	t.Helper()
	r := postfixRun{name: name, log: p.logPath(name), start: time.Now()}
	p.configure(t, name, policy, firstBackoff)

	// master -w returns once the daemon has initialised; faster than
	// `postfix start` and its checks (§8.9).
	argv := []string{p.tools.master, "-c", p.etc, "-w"}
	if out, code := p.w.nsRun(t, 20*time.Second, "", argv...); code != 0 {
		// Twice under a heavy load (three suites at once) master -w
		// exited 1 at once, its reason lost: a detached master writes
		// early errors to syslog only (master.c), and the namespace has
		// none. One more start, said in the log, rather than a failed
		// suite; a second failure fails it.
		logged, _ := os.ReadFile(r.log)
		t.Logf("interop: %s exit %d (%s; maillog: %q); starting it once more", strings.Join(argv, " "), code, strings.TrimSpace(out), logged)
		if out, code := p.w.nsRun(t, 20*time.Second, "", argv...); code != 0 {
			logged, _ := os.ReadFile(r.log)
			t.Fatalf("interop: %s exit %d twice: %s\nmaillog %s:\n%s", strings.Join(argv, " "), code, out, r.log, logged)
		}
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

	firsts := func(ds []Delivery) bool {
		for _, rcpt := range rcpts {
			if len(Attempts(ds, rcpt)) == 0 {
				return false
			}
		}
		return true
	}
	if p.await(t, &r, rcpts, "a first attempt for every recipient", firsts) && !done(r.deliveries) && p.retry(t, &r, pid) {
		p.await(t, &r, rcpts, "the retries", done)
	}
	stop()
	r.deliveries = p.readLog(t, r.log)
	p.emptyQueue(t)
	r.end = time.Now()
	return r
}

// await reads the run's maillog until cond holds for its status= lines.
// At phaseDeadline it fails the test with each recipient's status= lines
// so far, and returns false.
func (p *postfixInstance) await(t *testing.T, r *postfixRun, rcpts []string, what string, cond func([]Delivery) bool) bool {
	t.Helper()
	deadline := time.Now().Add(phaseDeadline)
	for {
		r.deliveries = p.readLog(t, r.log)
		if cond(r.deliveries) {
			return true
		}
		if time.Now().After(deadline) {
			t.Errorf("interop: %s: the maillog lacks %s after %s (see the table); status= lines by recipient:\n%s",
				r.name, what, phaseDeadline, statusLines(r.deliveries, rcpts))
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusLines lists each recipient's attempts: queue id, status, DSN.
func statusLines(ds []Delivery, rcpts []string) string {
	var b strings.Builder
	for _, rcpt := range rcpts {
		as := Attempts(ds, rcpt)
		fmt.Fprintf(&b, "  %s: %d", rcpt, len(as))
		for _, a := range as {
			fmt.Fprintf(&b, " [%s dsn=%s status=%s]", a.QueueID, a.DSN, a.Status)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// retry makes the running instance try every deferred message once more,
// now, under the condition a default Postfix meets at its attempt after
// minimal_backoff_time: the message waited at least minimal_backoff_time
// before it entered the active queue (PREACTIVE_DELAY >=
// var_min_backoff_time, postfix-3.7 src/smtp/smtp.h), which at may turns
// a failed handshake into a plaintext retry in the same delivery
// (src/smtp/smtp_connect.c, RETRY_AS_PLAINTEXT; docs/interop-recipe.md §6a).
//
//  1. main.cf with retryBackoff, and SIGHUP to master: what `postfix
//     reload` does (Debian's /usr/lib/postfix/sbin/postfix-script,
//     reload) without its queue checks, whose `postsuper &` would be a
//     process the test cannot stop by PID. master re-reads main.cf and
//     makes the current children exit "whenever it is convenient"; the
//     next generation runs with the new settings (src/master/
//     master_conf.c, master_config). Wait until every child from before
//     the reload is gone, so that no smtp(8) or qmgr(8) with the old
//     backoff takes part.
//  2. Wait until every message is minimalBackoff+1 seconds old: each one
//     arrived before its first attempt was logged, which await saw
//     before retry began. PREACTIVE_DELAY counts whole seconds, so
//     minimalBackoff seconds would do for Postfix; the extra second is a
//     margin on that rounding, never a measurement.
//  3. `postqueue -f`: the queue manager scans the deferred queue ignoring
//     the files' time stamps (src/global/mail_flush.c,
//     mail_flush_deferred: QMGR_REQ_SCAN_ALL), so each deferred message
//     gets its next attempt at once. The next ones come only after
//     minimal_backoff_time, and attempts are told apart by their order
//     (Attempts), not by when they came.
func (p *postfixInstance) retry(t *testing.T, r *postfixRun, master int) bool {
	t.Helper()
	aged := time.Now().Add((minimalBackoff + 1) * time.Second)
	old := childrenOf(master)
	p.writeMain(t, r.name, retryBackoff)
	if err := syscall.Kill(master, syscall.SIGHUP); err != nil {
		t.Errorf("interop: %s: reload: SIGHUP to master %d: %v", r.name, master, err)
		return false
	}
	deadline := time.Now().Add(phaseDeadline)
	for {
		var left []string
		for _, c := range old {
			if c.running() {
				left = append(left, fmt.Sprintf("%d (%s)", c.pid, c.comm))
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("interop: %s: master's children from before the reload still run after %s: %s", r.name, phaseDeadline, strings.Join(left, ", "))
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Until(aged); d > 0 {
		time.Sleep(d)
	}
	r.retried = time.Now()
	argv := []string{p.tools.postqueue, "-c", p.etc, "-f"}
	if out, code := p.w.nsRun(t, 20*time.Second, "", argv...); code != 0 {
		t.Errorf("interop: %s: %s: exit %d: %s", r.name, strings.Join(argv, " "), code, out)
		return false
	}
	return true
}

// proc is a process seen in /proc. Its start time tells it from a later
// process that got the same PID.
type proc struct {
	pid         int
	comm, start string
}

// readProc reads /proc/<pid>/stat: the process, its parent, and whether
// it has exited (a zombie counts as exited).
func readProc(pid int) (p proc, ppid int, exited bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{pid: pid}, 0, true
	}
	// pid (comm) state ppid ... starttime (field 22): comm may hold
	// spaces and parentheses, the fields after it follow the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return proc{pid: pid}, 0, true
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return proc{pid: pid}, 0, true
	}
	ppid, _ = strconv.Atoi(f[1])
	return proc{pid: pid, comm: s[open+1 : end], start: f[19]}, ppid, f[0] == "Z"
}

// running says whether the process still runs (and is the same one).
func (c proc) running() bool {
	q, _, exited := readProc(c.pid)
	return !exited && q.start == c.start
}

// childrenOf lists the running children of ppid.
func childrenOf(ppid int) []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c, parent, exited := readProc(pid); parent == ppid && !exited {
			out = append(out, c)
		}
	}
	return out
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
// sleeps (docs/interop-recipe.md §8.8).
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
