package dnslab_test

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// TestStart checks that port 0 gives one port serving both UDP and TCP, and
// that Close is idempotent.
func TestStart(t *testing.T) {
	s, err := dnslab.Start("127.0.0.1:0", testZone(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and a port", s.Addr())
	}
	for _, proto := range []string{"udp", "tcp"} {
		check(t, exchange(t, proto, s.Addr(), query("baseline.mxlab.test.", dns.TypeMX, withDO)),
			want{rcode: dns.RcodeSuccess, answer: []string{"baseline.mxlab.test. 1 IN MX 10 mx.baseline.mxlab.test."}, aa: true, ad: true})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// Both sockets are gone: the port can be bound again.
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 300 * time.Millisecond}
		if _, _, err := c.Exchange(query("baseline.mxlab.test.", dns.TypeMX), s.Addr()); err == nil {
			t.Errorf("%s: answered after Close", proto)
		}
	}
	s2, err := dnslab.Start(s.Addr(), testZone(t), nil)
	if err != nil {
		t.Fatalf("rebinding %s after Close: %v", s.Addr(), err)
	}
	s2.Close()
}

// TestStartAddressInUse checks a taken address is reported so that callers
// can tell it apart (mxlab serve exits 71, EX_OSERR), naming the address,
// whether UDP or TCP holds it.
func TestStartAddressInUse(t *testing.T) {
	s := startLab(t, testZone(t))

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()

	for _, addr := range []string{s.Addr(), udp.LocalAddr().String(), tcp.Addr().String()} {
		s2, err := dnslab.Start(addr, testZone(t), nil)
		if err == nil {
			s2.Close()
			t.Fatalf("%s: started twice", addr)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%s: error %q, want EADDRINUSE", addr, err)
		}
		if !strings.HasPrefix(err.Error(), "dnslab: ") || !strings.Contains(err.Error(), addr) {
			t.Errorf("error %q, want the dnslab: prefix and the address %s", err, addr)
		}
	}
}

// TestStartBadAddress checks an address that is no host:port is an error.
func TestStartBadAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "nonsense:port:x", "256.0.0.1:0"} {
		s, err := dnslab.Start(addr, testZone(t), nil)
		if err == nil {
			s.Close()
			t.Errorf("%q: no error", addr)
			continue
		}
		if !strings.HasPrefix(err.Error(), "dnslab: ") {
			t.Errorf("%q: error %q, want the dnslab: prefix", addr, err)
		}
	}
}

// BenchmarkQueryUDP measures one MX query's round trip over UDP on
// loopback, client included.
func BenchmarkQueryUDP(b *testing.B) {
	s, err := dnslab.Start("127.0.0.1:0", testZone(b), discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	conn, err := c.Dial(s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	q := query("sni-reject.mxlab.test.", dns.TypeMX, withDO, withAD)
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := c.ExchangeWithConn(q, conn)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Answer) != 1 {
			b.Fatalf("answer %v", r.Answer)
		}
	}
}
