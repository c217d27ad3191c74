package dnslab_test

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// want is what a response must show. Answer records are given in zone-file
// syntax and compared in miekg's presentation form.
type want struct {
	rcode  int
	answer []string
	soa    bool // the SOA in authority (a negative answer, RFC 2308 §3)
	aa, ad bool
}

// check compares r with w. The DNSSEC records of a signed answer (RRSIG,
// NSEC, DNSKEY) are left out of the comparison: TestSignedAnswers checks them.
func check(t *testing.T, r *dns.Msg, w want) {
	t.Helper()
	if r.Rcode != w.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[w.rcode])
	}
	var got, exp []string
	for _, rr := range withoutDNSSEC(r.Answer) {
		got = append(got, rr.String())
	}
	for _, s := range w.answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("test answer %q: %v", s, err)
		}
		exp = append(exp, rr.String())
	}
	if !slices.Equal(got, exp) {
		t.Errorf("answer\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(exp, "\n\t"))
	}
	ns := withoutDNSSEC(r.Ns)
	hasSOA := len(ns) == 1 && ns[0].Header().Rrtype == dns.TypeSOA
	if hasSOA != w.soa || (!w.soa && len(ns) > 0) {
		t.Errorf("authority %v, want SOA: %v", r.Ns, w.soa)
	}
	if r.Authoritative != w.aa {
		t.Errorf("aa %v, want %v", r.Authoritative, w.aa)
	}
	if r.AuthenticatedData != w.ad {
		t.Errorf("ad %v, want %v", r.AuthenticatedData, w.ad)
	}
	if !r.Response {
		t.Error("qr not set")
	}
}

// withoutDNSSEC returns rrs without the RRSIG, NSEC and DNSKEY records.
func withoutDNSSEC(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; t != dns.TypeRRSIG && t != dns.TypeNSEC && t != dns.TypeDNSKEY {
			out = append(out, rr)
		}
	}
	return out
}

// TestAnswers holds the answering rules: positive answers, NODATA for
// existing names and empty non-terminals, wildcard synthesis (RFC 4592),
// NXDOMAIN, REFUSED outside the zone, the ". NS" probe, and AD set exactly
// when the query asked for DNSSEC and the name is not insecure.
func TestAnswers(t *testing.T) {
	s := startLab(t, testZone(t))
	dnssec := []func(*dns.Msg){withDO, withAD} // what Postfix sends (docs/interop-recipe.md §2)
	tests := []struct {
		name  string
		q     *dns.Msg
		want  want
		proto string // "udp" unless set
	}{
		{"mx", query("sni-reject.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true, ad: true}, ""},
		{"a of the mx", query(sniMX, dns.TypeA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{sniMX + " 1 IN A 127.0.1.3"}, aa: true, ad: true}, ""},
		{"aaaa absent is nodata", query(sniMX, dns.TypeAAAA, dnssec...),
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, ad: true}, ""},
		{"tlsa", query("_25._tcp."+sniMX, dns.TypeTLSA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"_25._tcp." + sniMX + " 1 IN TLSA 3 1 1 " + tlsaHex}, aa: true, ad: true}, ""},
		{"tlsa at another port is nxdomain with ad", query("_2526._tcp."+sniMX, dns.TypeTLSA, dnssec...),
			want{rcode: dns.RcodeNameError, soa: true, aa: true, ad: true}, ""},
		{"wildcard mx", query("anything.sni-reject.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"anything.sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true, ad: true}, ""},
		{"wildcard covers several labels", query("a.b.sni-reject.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"a.b.sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true, ad: true}, ""},
		{"wildcard without the type is nodata", query("anything.sni-reject.mxlab.test.", dns.TypeA, dnssec...),
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, ad: true}, ""},
		{"empty non-terminal is nodata, not the wildcard", query("7c74f8d3197f.sni-reject.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, ad: true}, ""},
		{"below an empty non-terminal the wildcard does not reach", query("x.7c74f8d3197f.sni-reject.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeNameError, soa: true, aa: true, ad: true}, ""},
		{"nxdomain", query("nope.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeNameError, soa: true, aa: true, ad: true}, ""},
		{"refused outside the zone", query("example.com.", dns.TypeA, dnssec...),
			want{rcode: dns.RcodeRefused}, ""},
		{"refused for the parent", query("test.", dns.TypeSOA, dnssec...),
			want{rcode: dns.RcodeRefused}, ""},
		{"root ns probe", query(".", dns.TypeNS, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{". 1 IN NS ns.mxlab.test."}, ad: true}, ""},
		{"root ns probe without dnssec", query(".", dns.TypeNS),
			want{rcode: dns.RcodeSuccess, answer: []string{". 1 IN NS ns.mxlab.test."}}, ""},
		{"root soa is refused", query(".", dns.TypeSOA, dnssec...),
			want{rcode: dns.RcodeRefused}, ""},
		{"no ad without do or ad", query("sni-reject.mxlab.test.", dns.TypeMX),
			want{rcode: dns.RcodeSuccess, answer: []string{"sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true}, ""},
		{"no ad with edns but without do", query("sni-reject.mxlab.test.", dns.TypeMX, withEDNS(1232)),
			want{rcode: dns.RcodeSuccess, answer: []string{"sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true}, ""},
		{"ad for do alone", query("sni-reject.mxlab.test.", dns.TypeMX, withDO),
			want{rcode: dns.RcodeSuccess, answer: []string{"sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true, ad: true}, ""},
		{"ad for ad alone", query("sni-reject.mxlab.test.", dns.TypeMX, withAD),
			want{rcode: dns.RcodeSuccess, answer: []string{"sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true, ad: true}, ""},
		{"no ad for nxdomain without dnssec", query("nope.mxlab.test.", dns.TypeMX),
			want{rcode: dns.RcodeNameError, soa: true, aa: true}, ""},
		{"insecure owner", query("noad.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"noad.mxlab.test. 1 IN MX 10 mx.noad.mxlab.test."}, aa: true}, ""},
		{"below an insecure owner", query("mx.noad.mxlab.test.", dns.TypeA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"mx.noad.mxlab.test. 1 IN A 127.0.1.9"}, aa: true}, ""},
		{"nxdomain below an insecure owner", query("_2526._tcp.mx.noad.mxlab.test.", dns.TypeTLSA, dnssec...),
			want{rcode: dns.RcodeNameError, soa: true, aa: true}, ""},
		{"cname followed in the zone", query("alias.mxlab.test.", dns.TypeA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"alias.mxlab.test. 1 IN CNAME mx.baseline.mxlab.test.", "mx.baseline.mxlab.test. 1 IN A 127.0.1.1"}, aa: true, ad: true}, ""},
		{"cname asked for", query("alias.mxlab.test.", dns.TypeCNAME, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"alias.mxlab.test. 1 IN CNAME mx.baseline.mxlab.test."}, aa: true, ad: true}, ""},
		{"cname to nodata", query("alias.mxlab.test.", dns.TypeAAAA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"alias.mxlab.test. 1 IN CNAME mx.baseline.mxlab.test."}, soa: true, aa: true, ad: true}, ""},
		{"names are case-insensitive", query("SNI-Reject.MXLAB.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"sni-reject.mxlab.test. 1 IN MX 10 " + sniMX}, aa: true, ad: true}, ""},
		{"aaaa", query("v6.mxlab.test.", dns.TypeAAAA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"v6.mxlab.test. 1 IN AAAA ::1"}, aa: true, ad: true}, ""},
		{"txt", query("txt.mxlab.test.", dns.TypeTXT, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{`txt.mxlab.test. 1 IN TXT "v=spf1 -all"`}, aa: true, ad: true}, ""},
		{"apex soa synthesized", query(origin, dns.TypeSOA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"mxlab.test. 1 IN SOA ns.mxlab.test. hostmaster.mxlab.test. 1 3600 900 604800 1"}, aa: true, ad: true}, ""},
		{"apex ns synthesized", query(origin, dns.TypeNS, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"mxlab.test. 1 IN NS ns.mxlab.test."}, aa: true, ad: true}, ""},
		{"the ns has an address", query("ns.mxlab.test.", dns.TypeA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"ns.mxlab.test. 1 IN A 127.0.0.1"}, aa: true, ad: true}, ""},
		{"apex mx is nodata", query(origin, dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, ad: true}, ""},
		{"any", query(origin, dns.TypeANY, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{
				"mxlab.test. 1 IN SOA ns.mxlab.test. hostmaster.mxlab.test. 1 3600 900 604800 1",
				"mxlab.test. 1 IN NS ns.mxlab.test.",
			}, aa: true, ad: true}, ""},
		{"class chaos is refused", func() *dns.Msg {
			m := query("version.bind.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}(), want{rcode: dns.RcodeRefused}, ""},
		{"class any is answered", func() *dns.Msg {
			m := query("mx.baseline.mxlab.test.", dns.TypeA, dnssec...)
			m.Question[0].Qclass = dns.ClassANY
			return m
		}(), want{rcode: dns.RcodeSuccess, answer: []string{"mx.baseline.mxlab.test. 1 IN A 127.0.1.1"}, aa: true, ad: true}, ""},
		{"axfr is refused", query(origin, dns.TypeAXFR), want{rcode: dns.RcodeRefused}, "tcp"},
		{"mx over tcp", query("baseline.mxlab.test.", dns.TypeMX, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"baseline.mxlab.test. 1 IN MX 10 mx.baseline.mxlab.test."}, aa: true, ad: true}, "tcp"},
		{"tlsa over tcp", query("_25._tcp.mx.baseline.mxlab.test.", dns.TypeTLSA, dnssec...),
			want{rcode: dns.RcodeSuccess, answer: []string{"_25._tcp.mx.baseline.mxlab.test. 1 IN TLSA 3 1 1 " + tlsaHex}, aa: true, ad: true}, "tcp"},
		{"nxdomain over tcp", query("nope.mxlab.test.", dns.TypeA, dnssec...),
			want{rcode: dns.RcodeNameError, soa: true, aa: true, ad: true}, "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto := tt.proto
			if proto == "" {
				proto = "udp"
			}
			r := exchange(t, proto, s.Addr(), tt.q)
			check(t, r, tt.want)
			if r.Id != tt.q.Id {
				t.Errorf("id %d, want %d", r.Id, tt.q.Id)
			}
			if len(r.Question) != 1 || r.Question[0] != tt.q.Question[0] {
				t.Errorf("question %v, want %v echoed as asked", r.Question, tt.q.Question)
			}
		})
	}
}

// TestNegativeTTL checks the SOA of a negative answer carries the TTL RFC
// 2308 §3 asks for: the smaller of the SOA's TTL and its MINIMUM.
func TestNegativeTTL(t *testing.T) {
	z := testZone(t)
	soa, err := dns.NewRR("mxlab.test. 300 IN SOA ns.mxlab.test. hostmaster.mxlab.test. 7 3600 900 604800 5")
	if err != nil {
		t.Fatal(err)
	}
	z.Add(soa)
	s := startLab(t, z)
	r := exchange(t, "udp", s.Addr(), query("nope.mxlab.test.", dns.TypeA, withDO))
	if ns := withoutDNSSEC(r.Ns); len(ns) != 1 || ns[0].Header().Ttl != 5 || ns[0].(*dns.SOA).Serial != 7 {
		t.Fatalf("authority %v, want the zone's own SOA with TTL 5", r.Ns)
	}
	// RFC 9077 §3: the NSEC records, and every RRSIG, carry that TTL too.
	for _, rr := range r.Ns {
		if rr.Header().Ttl != 5 {
			t.Errorf("%v: TTL %d, want 5", rr, rr.Header().Ttl)
		}
	}
	r = exchange(t, "udp", s.Addr(), query(origin, dns.TypeSOA, withDO))
	if an := withoutDNSSEC(r.Answer); len(an) != 1 || an[0].Header().Ttl != 300 {
		t.Fatalf("answer %v, want the zone's own SOA with TTL 300", r.Answer)
	}
}

// TestEDNS checks the OPT record is echoed with the server's payload size
// and the query's DO bit (RFC 6891 §6.1.1, RFC 3225 §3), is absent when the
// query had none, and that an unknown EDNS version gets BADVERS (RFC 6891
// §6.1.3).
func TestEDNS(t *testing.T) {
	s := startLab(t, testZone(t))
	tests := []struct {
		name     string
		q        *dns.Msg
		opt, do  bool
		rcode    int
		protocol string
	}{
		{"do", query("baseline.mxlab.test.", dns.TypeMX, withDO), true, true, dns.RcodeSuccess, "udp"},
		{"edns without do", query("baseline.mxlab.test.", dns.TypeMX, withEDNS(4096)), true, false, dns.RcodeSuccess, "udp"},
		{"no edns", query("baseline.mxlab.test.", dns.TypeMX), false, false, dns.RcodeSuccess, "udp"},
		{"do over tcp", query("baseline.mxlab.test.", dns.TypeMX, withDO), true, true, dns.RcodeSuccess, "tcp"},
		{"refused keeps edns", query("example.com.", dns.TypeMX, withDO), true, true, dns.RcodeRefused, "udp"},
		{"nxdomain keeps edns", query("nope.mxlab.test.", dns.TypeMX, withDO), true, true, dns.RcodeNameError, "udp"},
		{"badvers", query("baseline.mxlab.test.", dns.TypeMX, withDO, func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), true, true, dns.RcodeBadVers, "udp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, tt.protocol, s.Addr(), tt.q)
			if r.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
			}
			opt := r.IsEdns0()
			if (opt != nil) != tt.opt {
				t.Fatalf("opt %v, want one: %v", opt, tt.opt)
			}
			if opt == nil {
				return
			}
			if opt.UDPSize() != 1232 || opt.Do() != tt.do || opt.Version() != 0 {
				t.Errorf("opt size %d do %v version %d, want 1232 %v 0", opt.UDPSize(), opt.Do(), opt.Version(), tt.do)
			}
		})
	}
}

// TestTruncation checks a UDP answer larger than the client accepts is cut
// with TC (RFC 1035 §4.2.1, RFC 6891 §6.2.5), and arrives whole over TCP or
// with a large enough advertised size.
func TestTruncation(t *testing.T) {
	s := startLab(t, testZone(t))
	tests := []struct {
		name  string
		proto string
		q     *dns.Msg
		tc    bool
	}{
		{"udp without edns: 512", "udp", query("big.mxlab.test.", dns.TypeTXT), true},
		{"udp with 1232", "udp", query("big.mxlab.test.", dns.TypeTXT, withDO), true},
		{"udp advertising less than 512 gets 512", "udp", query("big.mxlab.test.", dns.TypeTXT, withEDNS(100)), true},
		{"udp with 4096", "udp", query("big.mxlab.test.", dns.TypeTXT, withEDNS(4096)), false},
		{"tcp", "tcp", query("big.mxlab.test.", dns.TypeTXT), false},
		{"small answer over udp", "udp", query("baseline.mxlab.test.", dns.TypeMX), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &dns.Client{Net: tt.proto, Timeout: 5 * time.Second, UDPSize: dns.MaxMsgSize}
			r, _, err := c.Exchange(tt.q, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated != tt.tc {
				t.Errorf("tc %v, want %v", r.Truncated, tt.tc)
			}
			limit := dns.MaxMsgSize
			if tt.proto == "udp" {
				limit = 512
				if opt := tt.q.IsEdns0(); opt != nil {
					limit = max(512, int(opt.UDPSize()))
				}
			}
			// r.Len() counts as r would be packed: compressed, as the
			// server sends a message it had to truncate.
			r.Compress = true
			if n := r.Len(); n > limit {
				t.Errorf("response of %d bytes, want at most %d", n, limit)
			}
			if tt.q.Question[0].Name == "big.mxlab.test." && !tt.tc && len(r.Answer) != 12 {
				t.Errorf("%d answers, want all 12", len(r.Answer))
			}
			if tt.tc && len(r.Answer) >= 12 {
				t.Errorf("%d answers with TC, want fewer than 12", len(r.Answer))
			}
		})
	}
}

// TestMalformedQueries checks the rules for messages that are not a plain
// QUERY with one question, sent through the server: FORMERR for no or two
// questions (RFC 9619), NOTIMP for other opcodes (RFC 1035 §4.1.1), FORMERR
// for two OPT records (RFC 6891 §6.1.1).
func TestMalformedQueries(t *testing.T) {
	s := startLab(t, testZone(t))
	tests := []struct {
		name  string
		q     *dns.Msg
		rcode int
	}{
		{"no question", &dns.Msg{MsgHdr: dns.MsgHdr{Id: 1, RecursionDesired: true}}, dns.RcodeFormatError},
		{"two questions", func() *dns.Msg {
			m := query("baseline.mxlab.test.", dns.TypeMX)
			m.Question = append(m.Question, dns.Question{Name: "noad.mxlab.test.", Qtype: dns.TypeMX, Qclass: dns.ClassINET})
			return m
		}(), dns.RcodeFormatError},
		{"two opt records", query("baseline.mxlab.test.", dns.TypeMX, withDO, withDO), dns.RcodeFormatError},
		{"status opcode", func() *dns.Msg {
			m := query("baseline.mxlab.test.", dns.TypeMX)
			m.Opcode = dns.OpcodeStatus
			return m
		}(), dns.RcodeNotImplemented},
		{"notify", func() *dns.Msg {
			m := query(origin, dns.TypeSOA)
			m.Opcode = dns.OpcodeNotify
			return m
		}(), dns.RcodeNotImplemented},
		{"update", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetUpdate(origin)
			rr, _ := dns.NewRR("evil.mxlab.test. 1 IN A 10.0.0.1")
			m.Insert([]dns.RR{rr})
			return m
		}(), dns.RcodeNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, proto := range []string{"udp", "tcp"} {
				c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
				r, _, err := c.Exchange(tt.q, s.Addr())
				if err != nil {
					t.Fatalf("%s: %v", proto, err)
				}
				if r.Rcode != tt.rcode || r.AuthenticatedData || len(r.Answer) > 0 {
					t.Errorf("%s: rcode %s ad %v answer %v, want %s, no ad, no answer", proto, dns.RcodeToString[r.Rcode], r.AuthenticatedData, r.Answer, dns.RcodeToString[tt.rcode])
				}
			}
		})
	}
	// The update above must not have changed anything.
	check(t, exchange(t, "udp", s.Addr(), query("evil.mxlab.test.", dns.TypeA, withDO)), want{rcode: dns.RcodeNameError, soa: true, aa: true, ad: true})
}

// TestGarbage sends bytes that are no DNS message over UDP and TCP and
// checks the server still answers afterwards.
func TestGarbage(t *testing.T) {
	s := startLab(t, testZone(t))
	packets := [][]byte{
		{},
		{0x12},
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01}, // header cut short
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 'a'},              // question cut short
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x0c, 0, 1, 0, 1}, // compression pointer to itself
		[]byte(strings.Repeat("\xff", 600)),
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, p := range packets {
			conn, err := net.Dial(proto, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if proto == "tcp" {
				p = append([]byte{byte(len(p) >> 8), byte(len(p))}, p...)
			}
			if _, err := conn.Write(p); err != nil {
				t.Fatal(err)
			}
			conn.Close()
		}
		check(t, exchange(t, proto, s.Addr(), query("baseline.mxlab.test.", dns.TypeMX, withDO)),
			want{rcode: dns.RcodeSuccess, answer: []string{"baseline.mxlab.test. 1 IN MX 10 mx.baseline.mxlab.test."}, aa: true, ad: true})
	}
}
