package dnslab_test

import (
	"net"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// recorder is a dns.ResponseWriter that keeps what the handler writes,
// packed and unpacked as the server would send it.
type recorder struct {
	local  net.Addr
	msgs   []*dns.Msg
	packed [][]byte
	err    error
}

func (w *recorder) LocalAddr() net.Addr { return w.local }
func (w *recorder) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (w *recorder) WriteMsg(m *dns.Msg) error {
	w.msgs = append(w.msgs, m)
	b, err := m.Pack()
	if err != nil {
		w.err = err
		return err
	}
	w.packed = append(w.packed, b)
	return nil
}
func (w *recorder) Write(b []byte) (int, error) { w.packed = append(w.packed, b); return len(b), nil }
func (w *recorder) Close() error                { return nil }
func (w *recorder) TsigStatus() error           { return nil }
func (w *recorder) TsigTimersOnly(bool)         {}
func (w *recorder) Hijack()                     {}

// udpWriter returns a recorder that looks like miekg's UDP writer.
func udpWriter() *recorder {
	return &recorder{local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}}
}

// TestResponsesNotAnswered checks a message with QR set gets no answer
// (RFC 1035 §4.1.1): answering answers could loop between two servers.
func TestResponsesNotAnswered(t *testing.T) {
	h := dnslab.NewHandler(testZone(t), discard)
	q := query("baseline.mxlab.test.", dns.TypeMX)
	q.Response = true
	w := udpWriter()
	h.ServeDNS(w, q)
	if len(w.msgs) != 0 || len(w.packed) != 0 {
		t.Fatalf("answered a response: %v", w.msgs)
	}
}

// TestNewHandlerNilLogger checks a nil logger means no logging, not a
// panic.
func TestNewHandlerNilLogger(t *testing.T) {
	h := dnslab.NewHandler(testZone(t), nil)
	w := udpWriter()
	h.ServeDNS(w, query("baseline.mxlab.test.", dns.TypeMX, withDO))
	if len(w.msgs) != 1 || w.msgs[0].Rcode != dns.RcodeSuccess {
		t.Fatalf("response %v", w.msgs)
	}
}

// seedQueries are real queries: what Postfix asks at smtp_dns_support_level
// = dnssec (docs/interop-recipe.md §2), its ". NS" probe, and the odd ones.
func seedQueries() []*dns.Msg {
	dnssec := []func(*dns.Msg){withDO, withAD}
	return []*dns.Msg{
		query("sni-reject.mxlab.test.", dns.TypeMX, dnssec...),
		query(sniMX, dns.TypeA, dnssec...),
		query("_25._tcp."+sniMX, dns.TypeTLSA, dnssec...),
		query("mx.noad.mxlab.test.", dns.TypeA),
		query(".", dns.TypeNS, dnssec...),
		query("anything.sni-reject.mxlab.test.", dns.TypeMX, withEDNS(512)),
		query("alias.mxlab.test.", dns.TypeANY, withDO),
		query("big.mxlab.test.", dns.TypeTXT),
		query("example.com.", dns.TypeA, withDO),
		// What validators ask of a signed zone: keys, a DS at an
		// insecure delegation, NSEC, a bogus RRset with CD.
		query(origin, dns.TypeDNSKEY, withDO, func(m *dns.Msg) { m.CheckingDisabled = true }),
		query("noad.mxlab.test.", dns.TypeDS, withDO),
		query("nope.mxlab.test.", dns.TypeNSEC, withDO),
		query("_25._tcp.mx.bogus.mxlab.test.", dns.TypeTLSA, withDO, withAD),
		query("_25._tcp.mx.bogus.mxlab.test.", dns.TypeRRSIG, withDO, func(m *dns.Msg) { m.CheckingDisabled = true }),
	}
}

// FuzzHandler feeds arbitrary bytes to the handler as a query: whatever
// unpacks must be answered without a panic, with a response that packs,
// carries the query's ID, never sets AD unless the query had DO or AD, and
// never carries data with SERVFAIL.
func FuzzHandler(f *testing.F) {
	for _, q := range seedQueries() {
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	z, _ := signedZone(f, dnslab.ModeAD)
	h := dnslab.NewHandler(z, discard)
	f.Fuzz(func(t *testing.T, b []byte) {
		q := new(dns.Msg)
		if err := q.Unpack(b); err != nil {
			return
		}
		for _, local := range []net.Addr{&net.UDPAddr{}, &net.TCPAddr{}} {
			w := &recorder{local: local}
			h.ServeDNS(w, q)
			if q.Response {
				if len(w.msgs) != 0 {
					t.Fatalf("answered a response")
				}
				continue
			}
			if len(w.msgs) != 1 {
				t.Fatalf("%d responses, want 1", len(w.msgs))
			}
			r := w.msgs[0]
			if r.Id != q.Id || !r.Response {
				t.Fatalf("response id %d qr %v, want id %d qr", r.Id, r.Response, q.Id)
			}
			opt := q.IsEdns0()
			if r.AuthenticatedData && !q.AuthenticatedData && (opt == nil || !opt.Do()) {
				t.Fatalf("AD set for a query with neither DO nor AD")
			}
			if r.Rcode == dns.RcodeServerFailure && len(r.Answer) > 0 {
				t.Fatalf("SERVFAIL with an answer: %v", r)
			}
			if opt == nil && r.IsEdns0() != nil {
				t.Fatalf("OPT in the response to a query without")
			}
			if w.err != nil {
				t.Fatalf("response does not pack: %v", w.err)
			}
		}
	})
}
