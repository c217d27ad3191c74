package dnslab_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// The test zone mirrors the lab's layout: a scenario domain whose MX sits
// below an empty non-terminal and whose wildcard answers every other name
// (sni-reject), a healthy domain with TLSA (baseline), an unsigned one
// (noad), a CNAME, an IPv6-only name and an RRset too big for 512 bytes.
const (
	origin   = "mxlab.test."
	sniMX    = "_dc-mx.7c74f8d3197f.sni-reject.mxlab.test."
	tlsaHex  = "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"
	wrongHex = "0000000000000000000000000000000000000000000000000000000000000000"
	bigTXTs  = 12 // 12 TXT records of 100 bytes: about 1.4 kB, more than 512 and than 1232
)

var labRecords = []string{
	"sni-reject MX 10 _dc-mx.7c74f8d3197f.sni-reject",
	"*.sni-reject MX 10 _dc-mx.7c74f8d3197f.sni-reject",
	"_dc-mx.7c74f8d3197f.sni-reject A 127.0.1.3",
	"_25._tcp._dc-mx.7c74f8d3197f.sni-reject TLSA 3 1 1 " + tlsaHex,
	"baseline.mxlab.test. MX 10 mx.baseline.mxlab.test.",
	"mx.baseline A 127.0.1.1",
	"_25._tcp.mx.baseline TLSA 3 1 1 " + tlsaHex,
	"noad MX 10 mx.noad",
	"mx.noad A 127.0.1.9",
	"_25._tcp.mx.noad TLSA 3 1 1 " + wrongHex,
	"alias CNAME mx.baseline",
	"v6 AAAA ::1",
	`txt TXT "v=spf1 -all"`,
}

// testZone returns the lab zone the tests query, with TTL 1 as the lab uses
// (docs/interop-recipe.md §8.10: Postfix caches TLSA by TTL).
func testZone(t testing.TB) *dnslab.Zone {
	t.Helper()
	lines := append([]string(nil), labRecords...)
	for i := range bigTXTs {
		lines = append(lines, fmt.Sprintf("big TXT %q", fmt.Sprintf("%02d%s", i, strings.Repeat("x", 98))))
	}
	rrs, err := dnslab.ParseRecords(origin, lines, 1)
	if err != nil {
		t.Fatal(err)
	}
	z := dnslab.NewZone(origin, 1)
	z.Add(rrs...)
	z.Insecure = []string{"noad.mxlab.test."}
	return z
}

// startLab serves z on 127.0.0.1:0 until the test ends, logging queries to
// the test's output.
func startLab(t testing.TB, z *dnslab.Zone) *dnslab.Server {
	t.Helper()
	var log *slog.Logger
	if tt, ok := t.(*testing.T); ok {
		log = slog.New(slog.NewTextHandler(tt.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := dnslab.Start("127.0.0.1:0", z, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// query is a question with RD set, as stub resolvers send it, changed by
// opts.
func query(name string, qtype uint16, opts ...func(*dns.Msg)) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	for _, o := range opts {
		o(m)
	}
	return m
}

// withDO adds EDNS with the DO bit, as Postfix's RES_USE_DNSSEC does.
func withDO(m *dns.Msg) { m.SetEdns0(1232, true) }

// withEDNS adds EDNS without DO, advertising size.
func withEDNS(size uint16) func(*dns.Msg) {
	return func(m *dns.Msg) { m.SetEdns0(size, false) }
}

// withAD sets the AD bit in the query (RFC 6840 §5.7), as RES_TRUSTAD does.
func withAD(m *dns.Msg) { m.AuthenticatedData = true }

// exchange sends q over network ("udp" or "tcp") to addr and returns the
// response.
func exchange(t testing.TB, network, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	if opt := q.IsEdns0(); opt != nil {
		c.UDPSize = opt.UDPSize()
	}
	r, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, q.Question[0].Name, dns.Type(q.Question[0].Qtype), err)
	}
	return r
}

// TestMain checks, after all tests, that no server goroutine outlived its
// Close: the same leak check miekg/dns runs for its package.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks waits up to 5 s for goroutines of miekg's Server or of
// dnslab's to end and reports those that do not.
func checkLeaks() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		// The first goroutine is this one.
		for _, g := range strings.Split(string(buf), "\n\n")[1:] {
			if strings.Contains(g, "miekg/dns.(*Server)") || strings.Contains(g, "mxlab/dnslab.") && !strings.Contains(g, "dnslab_test.") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dnslab: %d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// discard is a logger for benchmarks and fuzzing, where output would drown
// the results.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))
