package dnslab_test

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// digOutput is what the tests read from dig's and kdig's full output.
type digOutput struct {
	status string   // NOERROR, NXDOMAIN, REFUSED, …
	flags  []string // header flags: qr aa rd ra ad …
	answer []string // answer records but RRSIGs: "OWNER TYPE rdata", rdata with blanks removed and lower case
	sigs   []string // RRSIGs of the answer: "OWNER TYPE-COVERED"
}

var (
	statusRE = regexp.MustCompile(`(?m)^;; ->>HEADER<<- opcode: QUERY[,;] status: ([A-Z]+)[,;]`)
	// dig writes ";; flags: qr aa rd ra ad; QUERY: 1, ...", kdig
	// ";; Flags: qr aa rd ra ad; QUERY: 1; ...". The EDNS line (dig
	// "; EDNS: version: 0, flags: do;", kdig ";; Version: 0; flags: do;")
	// does not start that way.
	flagsRE = regexp.MustCompile(`(?m)^;; [Ff]lags:([a-z ]*);`)
)

// parseDig reads the output of dig or kdig.
func parseDig(t *testing.T, out string) digOutput {
	t.Helper()
	var d digOutput
	m := statusRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no status line in:\n%s", out)
	}
	d.status = m[1]
	m = flagsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no flags line in:\n%s", out)
	}
	d.flags = strings.Fields(m[1])
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == ";; ANSWER SECTION:":
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			// owner TTL class type rdata…
			f := strings.Fields(line)
			if len(f) < 5 {
				t.Fatalf("answer line %q", line)
			}
			if f[3] == "RRSIG" {
				d.sigs = append(d.sigs, f[0]+" "+f[4])
				continue
			}
			d.answer = append(d.answer, f[0]+" "+f[3]+" "+normalizeRdata(strings.Join(f[4:], " ")))
		}
	}
	return d
}

// normalizeRdata removes the blanks dig puts into long hex (TLSA data in
// groups of 56) and lowers the case, so dig, kdig and the test agree.
func normalizeRdata(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", ""))
}

// TestRealClients asks dig and kdig, the real resolver clients, the
// questions Postfix asks at smtp_dns_support_level = dnssec (docs/interop-recipe.md
// §2) and checks what they read from the wire: rcode, header flags (aa, and
// ad exactly when asked for and secure) and answers.
func TestRealClients(t *testing.T) {
	s := startLab(t, testZone(t))
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	server := "@" + host // 127.0.0.1, never a name: the clients must not resolve the server

	type ask struct {
		name   string
		args   []string // after the server and port options
		status string
		flags  string // all header flags, in the order dig prints them
		answer []string
	}
	// ans is an answer record as parseDig returns it.
	ans := func(owner, rrtype, rdata string) []string {
		return []string{owner + " " + rrtype + " " + normalizeRdata(rdata)}
	}
	mxAnswer := ans("sni-reject.mxlab.test.", "MX", "10 "+sniMX)
	tlsaAnswer := ans("_25._tcp."+sniMX, "TLSA", "3 1 1 "+tlsaHex)
	common := []ask{
		{"mx with ad", []string{"+dnssec", "mx", "sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra ad", mxAnswer},
		{"a with ad", []string{"+dnssec", "a", sniMX}, "NOERROR", "qr aa rd ra ad", ans(sniMX, "A", "127.0.1.3")},
		{"tlsa with ad", []string{"+dnssec", "tlsa", "_25._tcp." + sniMX}, "NOERROR", "qr aa rd ra ad", tlsaAnswer},
		{"wildcard mx", []string{"+dnssec", "mx", "anything.sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra ad",
			ans("anything.sni-reject.mxlab.test.", "MX", "10 "+sniMX)},
		{"nxdomain with ad", []string{"+dnssec", "tlsa", "_2526._tcp." + sniMX}, "NXDOMAIN", "qr aa rd ra ad", nil},
		{"nodata with ad", []string{"+dnssec", "aaaa", sniMX}, "NOERROR", "qr aa rd ra ad", nil},
		{"no ad for an insecure name", []string{"+dnssec", "mx", "noad.mxlab.test"}, "NOERROR", "qr aa rd ra",
			ans("noad.mxlab.test.", "MX", "10 mx.noad.mxlab.test.")},
		{"root ns probe", []string{"+dnssec", "ns", "."}, "NOERROR", "qr rd ra ad", ans(".", "NS", "ns.mxlab.test.")},
		{"refused", []string{"+dnssec", "a", "example.com"}, "REFUSED", "qr rd", nil},
		{"mx over tcp", []string{"+tcp", "+dnssec", "mx", "sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra ad", mxAnswer},
		{"tlsa over tcp", []string{"+tcp", "+dnssec", "tlsa", "_25._tcp." + sniMX}, "NOERROR", "qr aa rd ra ad", tlsaAnswer},
	}

	clients := []struct {
		peer realpeer.Peer
		args []string // how the client is told the port, one try and a short timeout
		asks []ask
	}{
		{realpeer.Dig, []string{"-p", port, "+time=2", "+tries=1"}, append(slices.Clone(common),
			// dig sets AD in queries by default (+adflag); without it
			// and without DO, no AD comes back.
			ask{"no ad without do or ad", []string{"+noadflag", "mx", "sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra", mxAnswer},
			ask{"ad for the ad flag alone", []string{"+adflag", "mx", "sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra ad", mxAnswer},
			// The big RRset does not fit 512 bytes: dig retries over
			// TCP after TC and prints all of it.
			ask{"truncated then tcp", []string{"+noedns", "txt", "big.mxlab.test"}, "NOERROR", "qr aa rd ra ad", nil},
		)},
		{realpeer.Kdig, []string{"-p", port, "+time=2", "+retry=0"}, append(slices.Clone(common),
			// kdig, like dig, sets AD in queries by default.
			ask{"no ad without do or ad", []string{"+noadflag", "mx", "sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra", mxAnswer},
			ask{"ad for the ad flag alone", []string{"+adflag", "mx", "sni-reject.mxlab.test"}, "NOERROR", "qr aa rd ra ad", mxAnswer},
		)},
	}
	for _, c := range clients {
		t.Run(c.peer.Name, func(t *testing.T) {
			path := realpeer.Need(t, c.peer)
			for _, a := range c.asks {
				t.Run(a.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
					defer cancel()
					args := append(append([]string{server}, c.args...), a.args...)
					cmd := exec.CommandContext(ctx, path, args...)
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("%s %s: %v\n%s", c.peer.Name, strings.Join(args, " "), err, out)
					}
					d := parseDig(t, string(out))
					if d.status != a.status {
						t.Errorf("status %s, want %s", d.status, a.status)
					}
					if got := strings.Join(d.flags, " "); got != a.flags {
						t.Errorf("flags %q, want %q", got, a.flags)
					}
					if a.name == "truncated then tcp" {
						if len(d.answer) != bigTXTs || !strings.Contains(string(out), "Truncated, retrying in TCP mode") {
							t.Errorf("%d answers, want %d after a TCP retry", len(d.answer), bigTXTs)
						}
					} else if !slices.Equal(d.answer, a.answer) {
						t.Errorf("answer %q, want %q", d.answer, a.answer)
					}
					if t.Failed() {
						t.Logf("%s %s:\n%s", c.peer.Name, strings.Join(args, " "), out)
					}
				})
			}
		})
	}
}
