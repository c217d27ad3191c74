package sender_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
)

// fakeDNS answers from maps, with the AD bit and failures chosen per
// test: the resolver seam lets DNS edge cases run without a lab.
type fakeDNS struct {
	mxAD, addrAD, tlsaAD bool
	tlsaErr              error
	tlsa                 []*dns.TLSA
	// asked records each question, in order.
	asked []string
}

func (f *fakeDNS) LookupMX(_ context.Context, domain string) ([]string, bool, error) {
	f.asked = append(f.asked, "MX "+domain)
	return []string{"mx." + domain}, f.mxAD, nil
}

func (f *fakeDNS) LookupAddr(_ context.Context, host string) (net.IP, bool, error) {
	f.asked = append(f.asked, "A "+host)
	return net.IPv4(127, 0, 0, 1), f.addrAD, nil
}

func (f *fakeDNS) LookupTLSA(_ context.Context, host string, port int) ([]*dns.TLSA, bool, error) {
	f.asked = append(f.asked, fmt.Sprintf("TLSA _%d._tcp.%s", port, host))
	return f.tlsa, f.tlsaAD, f.tlsaErr
}

func (f *fakeDNS) LookupTXT(_ context.Context, name string) ([]string, bool, error) {
	f.asked = append(f.asked, "TXT "+name)
	return nil, false, nil
}

// closedPort is a loopback port where nothing listens: an attempt that
// gets past DNS ends there with connect-refused.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestResolverSeam(t *testing.T) {
	pc, err := profiles.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	servfail := fmt.Errorf("%w: _25._tcp.mx.example.test TLSA: SERVFAIL", sender.ErrServfail)
	tlsa := []*dns.TLSA{{Hdr: dns.RR_Header{Rrtype: dns.TypeTLSA}, Usage: 3, Selector: 1, MatchingType: 1, Certificate: strings.Repeat("ab", 32)}}
	for _, tc := range []struct {
		name    string
		profile string
		dns     fakeDNS
		outcome result.Outcome
		reason  result.Reason
		dane    string // the report's DANE result, a prefix
	}{
		// RFC 7672 §2.1.1: a failed TLSA lookup below a secure MX defers.
		{"bogus TLSA, secure MX", "postfix-dane", fakeDNS{mxAD: true, addrAD: true, tlsaErr: servfail},
			result.Deferred, result.DNSSECInvalid, "lookup failed"},
		{"bogus TLSA, Microsoft 365", "outlook", fakeDNS{mxAD: true, addrAD: true, tlsaErr: servfail},
			result.Deferred, result.DNSSECInvalid, "lookup failed"},
		// An insecure MX answer: DANE does not apply, nor its failure.
		{"bogus TLSA, insecure MX", "postfix-dane", fakeDNS{tlsaErr: servfail},
			result.Deferred, result.ConnectRefused, "lookup failed, but the MX answer was not authenticated"},
		// TLSA records without AD are not usable (RFC 7672 §2.2).
		{"TLSA without AD", "postfix-dane", fakeDNS{mxAD: true, addrAD: true, tlsa: tlsa},
			result.Deferred, result.ConnectRefused, "not authenticated"},
		// A sender without DANE never asks.
		{"no DANE, no TLSA lookup", "postfix-may", fakeDNS{mxAD: true, tlsaErr: servfail},
			result.Deferred, result.ConnectRefused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pc.Get(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			port := closedPort(t)
			rep, err := sender.Send(context.Background(), sender.Options{
				Profile: p, To: "rcpt@example.test", Resolver: &tc.dns, PortFor: func(string) int { return port },
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Outcome != tc.outcome || rep.Reason != tc.reason {
				t.Errorf("%s, %s; want %s, %s (asked %v)", rep.Outcome, rep.Reason, tc.outcome, tc.reason, tc.dns.asked)
			}
			if !strings.HasPrefix(rep.DANE.Result, tc.dane) {
				t.Errorf("DANE result %q, want %q…", rep.DANE.Result, tc.dane)
			}
			if asked := strings.Join(tc.dns.asked, ","); !p.Verify.DANE && strings.Contains(asked, "TLSA") {
				t.Errorf("a profile without DANE asked %s", asked)
			}
		})
	}
}

// TestResolverTruncation: an answer truncated over UDP is asked again
// over TCP (RFC 7766 §5), from a real DNS server on loopback.
func TestResolverTruncation(t *testing.T) {
	rr, err := dns.NewRR("_25._tcp.mx.example.test. 60 IN TLSA 3 1 1 " + strings.Repeat("cd", 32))
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.AuthenticatedData = true
		if w.LocalAddr().Network() == "udp" {
			m.Truncated = true // no answer over UDP
		} else {
			m.Answer = []dns.RR{rr}
		}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skipf("the UDP port's TCP twin is taken: %v", err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	defer udp.Shutdown()
	defer tcp.Shutdown()

	r := &sender.Resolver{Addr: pc.LocalAddr().String()}
	rrs, ad, err := r.LookupTLSA(context.Background(), "mx.example.test", 25)
	if err != nil || !ad || len(rrs) != 1 || rrs[0].Certificate != strings.Repeat("cd", 32) {
		t.Errorf("LookupTLSA: %v, ad=%v, %v; want the record from the TCP answer", rrs, ad, err)
	}
}
