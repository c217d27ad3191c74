package dnslab_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// signedZone is the test zone signed with keys the test knows, with the
// TLSA of bogus.mxlab.test's MX made bogus.
func signedZone(t testing.TB, mode dnslab.Mode) (*dnslab.Zone, *dnslab.Keys) {
	t.Helper()
	z := testZone(t)
	keys, err := dnslab.GenerateKeys(origin)
	if err != nil {
		t.Fatal(err)
	}
	rrs, err := dnslab.ParseRecords(origin, []string{
		"bogus MX 10 mx.bogus",
		"mx.bogus A 127.0.1.40",
		"_25._tcp.mx.bogus TLSA 3 1 1 " + tlsaHex,
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	z.Add(rrs...)
	z.Bogus = []dnslab.RRset{{Name: "_25._tcp.mx.bogus.mxlab.test.", Type: dns.TypeTLSA}}
	z.Keys = keys
	z.Mode = mode
	return z, keys
}

// verifier checks a response as a validator would (RFC 4035 §5), against
// the zone's keys, without a resolver: every RRset's RRSIG, and the NSEC
// records of a denial. Its canonical ordering is its own (ASCII names
// only), independent of the server's.
type verifier struct {
	t    *testing.T
	keys map[uint16]*dns.DNSKEY // by key tag
	now  time.Time
}

func newVerifier(t *testing.T, keys *dnslab.Keys) *verifier {
	_, ksk := keys.TrustAnchor(origin, 1)
	zsk := dns.Copy(keys.ZSK.DNSKEY).(*dns.DNSKEY)
	zsk.Hdr.Name = origin
	return &verifier{t: t, now: time.Now(), keys: map[uint16]*dns.DNSKEY{ksk.KeyTag(): ksk, zsk.KeyTag(): zsk}}
}

// rrsets groups a section's records by owner and type, the RRSIGs
// covering each apart.
func rrsetsOf(section []dns.RR) (sets map[string][]dns.RR, sigs map[string][]*dns.RRSIG, order []string) {
	sets, sigs = map[string][]dns.RR{}, map[string][]*dns.RRSIG{}
	for _, rr := range section {
		h := rr.Header()
		if sig, ok := rr.(*dns.RRSIG); ok {
			k := dns.CanonicalName(h.Name) + "/" + dns.Type(sig.TypeCovered).String()
			sigs[k] = append(sigs[k], sig)
			continue
		}
		k := dns.CanonicalName(h.Name) + "/" + dns.Type(h.Rrtype).String()
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	return sets, sigs, order
}

// verifySection reports, for each RRset of the section, whether an RRSIG
// over it verifies with one of the zone's keys (RFC 4035 §5.3): "secure",
// "bogus" (signatures, none verify) or "unsigned".
func (v *verifier) verifySection(section []dns.RR) map[string]string {
	sets, sigs, _ := rrsetsOf(section)
	out := map[string]string{}
	for k, set := range sets {
		out[k] = "unsigned"
		for _, sig := range sigs[k] {
			out[k] = "bogus"
			key := v.keys[sig.KeyTag]
			if key == nil || !sig.ValidityPeriod(v.now) {
				continue
			}
			if set[0].Header().Rrtype == dns.TypeDNSKEY && key.Flags != dnslab.FlagsKSK {
				continue // the DNSKEY RRset is the KSK's to sign
			}
			if err := sig.Verify(key, set); err == nil {
				out[k] = "secure"
				break
			}
		}
	}
	return out
}

// canonical returns a sort key of an ASCII name in canonical order (RFC
// 4034 §6.1): its labels, lower case, from the most significant.
func canonical(name string) []string {
	labels := dns.SplitDomainName(strings.ToLower(name))
	slices.Reverse(labels)
	return labels
}

// less is canonical order for ASCII names.
func less(a, b string) bool {
	la, lb := canonical(a), canonical(b)
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return la[i] < lb[i]
		}
	}
	return len(la) < len(lb)
}

// covers reports whether the NSEC proves name does not exist: it lies
// strictly between the NSEC's owner and next name, the last NSEC of the
// chain (next is the apex) covering everything after its owner.
func covers(nsec *dns.NSEC, name string) bool {
	owner, next := nsec.Hdr.Name, nsec.NextDomain
	if !less(owner, name) {
		return false
	}
	return less(name, next) || dns.CanonicalName(next) == origin
}

// nsecs returns the NSEC records of a section.
func nsecs(section []dns.RR) []*dns.NSEC {
	var out []*dns.NSEC
	for _, rr := range section {
		if n, ok := rr.(*dns.NSEC); ok {
			out = append(out, n)
		}
	}
	return out
}

// TestSignedAnswers checks, for each kind of answer, that its RRsets
// verify with the zone's keys (RRSIG.Verify) and that a denial carries the
// NSEC records RFC 4035 §3.1.3 asks for, so that a validator can prove
// every answer of the lab.
func TestSignedAnswers(t *testing.T) {
	z, keys := signedZone(t, dnslab.ModeSigned)
	s := startLab(t, z)
	v := newVerifier(t, keys)
	const wild = "anything.sni-reject.mxlab.test."

	type proof func(t *testing.T, qname string, ns []*dns.NSEC)
	// nsecAt proves a name exists without the type asked (RFC 4035
	// §3.1.3.1).
	nsecAt := func(owner string, qtype uint16) proof {
		return func(t *testing.T, qname string, ns []*dns.NSEC) {
			for _, n := range ns {
				if dns.CanonicalName(n.Hdr.Name) == dns.CanonicalName(owner) {
					if slices.Contains(n.TypeBitMap, qtype) || slices.Contains(n.TypeBitMap, dns.TypeCNAME) {
						t.Errorf("NSEC at %s lists %s: it proves nothing", owner, dns.Type(qtype))
					}
					return
				}
			}
			t.Errorf("no NSEC at %s in %v", owner, ns)
		}
	}
	// covered proves a name does not exist (RFC 4035 §3.1.3.2).
	covered := func(name string) proof {
		return func(t *testing.T, qname string, ns []*dns.NSEC) {
			if !slices.ContainsFunc(ns, func(n *dns.NSEC) bool { return covers(n, name) }) {
				t.Errorf("no NSEC covers %s in %v", name, ns)
			}
		}
	}
	// entProof proves an empty non-terminal: an NSEC covers it and its
	// next name is below it (RFC 6840 §4.3).
	entProof := func(t *testing.T, qname string, ns []*dns.NSEC) {
		if !slices.ContainsFunc(ns, func(n *dns.NSEC) bool {
			return covers(n, qname) && dns.IsSubDomain(dns.CanonicalName(qname), dns.CanonicalName(n.NextDomain))
		}) {
			t.Errorf("no NSEC proves %s an empty non-terminal in %v", qname, ns)
		}
	}
	// insecureDelegation proves a delegation without DS (RFC 4035 §5.2,
	// RFC 6840 §4.4): NS set, DS and SOA not.
	insecureDelegation := func(t *testing.T, qname string, ns []*dns.NSEC) {
		for _, n := range ns {
			if dns.CanonicalName(n.Hdr.Name) == dns.CanonicalName(qname) {
				if !slices.Contains(n.TypeBitMap, dns.TypeNS) || slices.Contains(n.TypeBitMap, dns.TypeDS) || slices.Contains(n.TypeBitMap, dns.TypeSOA) {
					t.Errorf("NSEC %v does not prove an insecure delegation", n)
				}
				return
			}
		}
		t.Errorf("no NSEC at %s in %v", qname, ns)
	}

	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer map[string]string // RRset → verdict
		labels int               // the labels field of the answer's first RRSIG, 0 for any
		proofs []proof
	}{
		{"mx", "sni-reject.mxlab.test.", dns.TypeMX, dns.RcodeSuccess,
			map[string]string{"sni-reject.mxlab.test./MX": "secure"}, 3, nil},
		{"tlsa", "_25._tcp.mx.baseline.mxlab.test.", dns.TypeTLSA, dns.RcodeSuccess,
			map[string]string{"_25._tcp.mx.baseline.mxlab.test./TLSA": "secure"}, 0, nil},
		{"address of the mx below an empty non-terminal", sniMX, dns.TypeA, dns.RcodeSuccess,
			map[string]string{sniMX + "/A": "secure"}, 0, nil},
		{"wildcard mx", wild, dns.TypeMX, dns.RcodeSuccess,
			map[string]string{wild + "/MX": "secure"}, 3, []proof{covered(wild)}},
		{"wildcard two labels down", "a.b.sni-reject.mxlab.test.", dns.TypeMX, dns.RcodeSuccess,
			map[string]string{"a.b.sni-reject.mxlab.test./MX": "secure"}, 3, []proof{covered("a.b.sni-reject.mxlab.test.")}},
		{"cname and its target", "alias.mxlab.test.", dns.TypeA, dns.RcodeSuccess,
			map[string]string{"alias.mxlab.test./CNAME": "secure", "mx.baseline.mxlab.test./A": "secure"}, 0, nil},
		{"dnskey signed by the ksk", origin, dns.TypeDNSKEY, dns.RcodeSuccess,
			map[string]string{origin + "/DNSKEY": "secure"}, 2, nil},
		{"nxdomain", "nope.mxlab.test.", dns.TypeMX, dns.RcodeNameError, nil, 0,
			[]proof{covered("nope.mxlab.test."), covered("*.mxlab.test.")}},
		{"nxdomain for a tlsa at another port", "_2526._tcp." + sniMX, dns.TypeTLSA, dns.RcodeNameError, nil, 0,
			[]proof{covered("_2526._tcp." + sniMX), covered("*._tcp." + sniMX)}},
		{"nxdomain below an empty non-terminal", "x.7c74f8d3197f.sni-reject.mxlab.test.", dns.TypeMX, dns.RcodeNameError, nil, 0,
			[]proof{covered("x.7c74f8d3197f.sni-reject.mxlab.test."), covered("*.7c74f8d3197f.sni-reject.mxlab.test.")}},
		{"nodata", sniMX, dns.TypeAAAA, dns.RcodeSuccess, nil, 0, []proof{nsecAt(sniMX, dns.TypeAAAA)}},
		{"nodata at the apex", origin, dns.TypeMX, dns.RcodeSuccess, nil, 0, []proof{nsecAt(origin, dns.TypeMX)}},
		{"nodata at an empty non-terminal", "7c74f8d3197f.sni-reject.mxlab.test.", dns.TypeMX, dns.RcodeSuccess, nil, 0,
			[]proof{entProof}},
		{"nodata from a wildcard", wild, dns.TypeA, dns.RcodeSuccess, nil, 0,
			[]proof{covered(wild), nsecAt("*.sni-reject.mxlab.test.", dns.TypeA)}},
		{"no ds at an insecure delegation", "noad.mxlab.test.", dns.TypeDS, dns.RcodeSuccess, nil, 0,
			[]proof{insecureDelegation}},
		{"the unsigned child answers unsigned", "mx.noad.mxlab.test.", dns.TypeA, dns.RcodeSuccess,
			map[string]string{"mx.noad.mxlab.test./A": "unsigned"}, 0, nil},
		{"the unsigned child's apex", "noad.mxlab.test.", dns.TypeMX, dns.RcodeSuccess,
			map[string]string{"noad.mxlab.test./MX": "unsigned"}, 0, nil},
		{"bogus tlsa", "_25._tcp.mx.bogus.mxlab.test.", dns.TypeTLSA, dns.RcodeSuccess,
			map[string]string{"_25._tcp.mx.bogus.mxlab.test./TLSA": "bogus"}, 0, nil},
		{"the bogus scenario's mx is fine", "bogus.mxlab.test.", dns.TypeMX, dns.RcodeSuccess,
			map[string]string{"bogus.mxlab.test./MX": "secure"}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, proto := range []string{"udp", "tcp"} {
				r := exchange(t, proto, s.Addr(), query(tt.qname, tt.qtype, withDO))
				if r.Rcode != tt.rcode {
					t.Fatalf("%s: rcode %s, want %s", proto, dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if r.AuthenticatedData {
					t.Errorf("%s: AD set: in signed mode the server never sets it", proto)
				}
				if r.Truncated {
					t.Errorf("%s: truncated at 1232 bytes", proto)
				}
				got := v.verifySection(r.Answer)
				want := tt.answer
				if want == nil {
					want = map[string]string{}
				}
				if !mapsEqual(got, want) {
					t.Errorf("%s: answer verdicts %v, want %v\n%v", proto, got, want, r)
				}
				if tt.labels != 0 {
					sig, _ := r.Answer[len(r.Answer)-1].(*dns.RRSIG)
					if sig == nil || int(sig.Labels) != tt.labels {
						t.Errorf("%s: RRSIG %v, want labels %d", proto, sig, tt.labels)
					}
				}
				// Every RRset of the authority section of a
				// signed-zone answer verifies: the SOA and the NSECs.
				if tt.answer == nil || len(nsecs(r.Ns)) > 0 {
					for k, verdict := range v.verifySection(r.Ns) {
						if verdict != "secure" {
							t.Errorf("%s: authority %s is %s", proto, k, verdict)
						}
					}
				}
				for _, p := range tt.proofs {
					p(t, tt.qname, nsecs(r.Ns))
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestNSECChain walks the NSEC chain from the apex, asking each name for
// its NSEC: every link verifies, the names rise in canonical order, and
// the chain comes back to the apex having named every signed name once
// (RFC 4034 §4.1.1).
func TestNSECChain(t *testing.T) {
	z, keys := signedZone(t, dnslab.ModeSigned)
	s := startLab(t, z)
	v := newVerifier(t, keys)
	seen := map[string]bool{}
	name := origin
	for range 200 {
		r := exchange(t, "udp", s.Addr(), query(name, dns.TypeNSEC, withDO))
		ns := nsecs(r.Answer)
		if len(ns) != 1 {
			t.Fatalf("%s NSEC: %v", name, r)
		}
		if verdict := v.verifySection(r.Answer)[dns.CanonicalName(name)+"/NSEC"]; verdict != "secure" {
			t.Fatalf("%s NSEC is %s", name, verdict)
		}
		seen[name] = true
		next := dns.CanonicalName(ns[0].NextDomain)
		if next == origin {
			break
		}
		if !less(name, next) {
			t.Fatalf("%s NSEC points back at %s", name, next)
		}
		name = next
	}
	for _, want := range []string{origin, "*.sni-reject.mxlab.test.", sniMX, "_25._tcp." + sniMX, "noad.mxlab.test.", "ns.mxlab.test.", "big.mxlab.test."} {
		if !seen[want] {
			t.Errorf("the chain skips %s", want)
		}
	}
	// Names of the unsigned child and empty non-terminals have no NSEC.
	for _, absent := range []string{"mx.noad.mxlab.test.", "_25._tcp.mx.noad.mxlab.test.", "7c74f8d3197f.sni-reject.mxlab.test.", "_tcp.mx.baseline.mxlab.test."} {
		if seen[absent] {
			t.Errorf("the chain names %s", absent)
		}
	}
}

// TestSignedOnce checks the zone is signed when compiled, not per query:
// ECDSA signatures are randomised, so a zone signed per query would give
// two answers two signatures.
func TestSignedOnce(t *testing.T) {
	z, _ := signedZone(t, dnslab.ModeAD)
	s := startLab(t, z)
	q := query("_25._tcp.mx.baseline.mxlab.test.", dns.TypeTLSA, withDO)
	a := exchange(t, "udp", s.Addr(), q)
	b := exchange(t, "tcp", s.Addr(), q)
	if len(a.Answer) != 2 || a.Answer[1].String() != b.Answer[1].String() {
		t.Fatalf("two answers, two signatures:\n%v\n%v", a.Answer, b.Answer)
	}
}

// TestModes checks what differs between the modes: AD, set by the server
// only in ModeAD; and a bogus RRset, SERVFAIL with the extended error
// "DNSSEC Bogus" in ModeAD (RFC 4035 §5.5, RFC 8914 §4.7) unless the query
// sets CD (RFC 4035 §3.2.2), and served as it is in ModeSigned, for the
// validator to judge. RRSIGs come with DO in both.
func TestModes(t *testing.T) {
	const bogus = "_25._tcp.mx.bogus.mxlab.test."
	withCD := func(m *dns.Msg) { m.CheckingDisabled = true }
	tests := []struct {
		mode   dnslab.Mode
		q      *dns.Msg
		rcode  int
		ad     bool
		sigs   bool // RRSIGs in the answer
		bogusE bool // the extended error DNSSEC Bogus
	}{
		{dnslab.ModeAD, query("baseline.mxlab.test.", dns.TypeMX, withDO), dns.RcodeSuccess, true, true, false},
		{dnslab.ModeAD, query("baseline.mxlab.test.", dns.TypeMX, withAD), dns.RcodeSuccess, true, false, false},
		{dnslab.ModeAD, query("mx.noad.mxlab.test.", dns.TypeA, withDO), dns.RcodeSuccess, false, false, false},
		{dnslab.ModeAD, query(bogus, dns.TypeTLSA, withDO, withAD), dns.RcodeServerFailure, false, false, true},
		{dnslab.ModeAD, query(bogus, dns.TypeTLSA), dns.RcodeServerFailure, false, false, false},
		{dnslab.ModeAD, query(bogus, dns.TypeTLSA, withDO, withCD), dns.RcodeSuccess, false, true, false},
		{dnslab.ModeSigned, query("baseline.mxlab.test.", dns.TypeMX, withDO, withAD), dns.RcodeSuccess, false, true, false},
		{dnslab.ModeSigned, query(".", dns.TypeNS, withDO, withAD), dns.RcodeSuccess, false, false, false},
		{dnslab.ModeSigned, query(bogus, dns.TypeTLSA, withDO), dns.RcodeSuccess, false, true, false},
	}
	servers := map[dnslab.Mode]*dnslab.Server{}
	for _, m := range dnslab.Modes {
		z, _ := signedZone(t, m)
		servers[m] = startLab(t, z)
	}
	for _, tt := range tests {
		q := tt.q.Question[0]
		name := string(tt.mode) + " " + q.Name + " " + dns.Type(q.Qtype).String()
		if tt.q.CheckingDisabled {
			name += " cd"
		}
		if tt.q.IsEdns0() == nil {
			name += " no edns"
		}
		t.Run(name, func(t *testing.T) {
			r := exchange(t, "udp", servers[tt.mode].Addr(), tt.q)
			if r.Rcode != tt.rcode || r.AuthenticatedData != tt.ad {
				t.Errorf("rcode %s ad %v, want %s %v", dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[tt.rcode], tt.ad)
			}
			hasSigs := slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG })
			if hasSigs != tt.sigs {
				t.Errorf("RRSIGs in the answer: %v, want %v\n%v", hasSigs, tt.sigs, r)
			}
			if tt.rcode == dns.RcodeServerFailure && (len(r.Answer) > 0 || r.Authoritative) {
				t.Errorf("SERVFAIL with data or AA: %v", r)
			}
			hasEDE := false
			if opt := r.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == dns.ExtendedErrorCodeDNSBogus {
						hasEDE = true
					}
				}
			}
			if hasEDE != tt.bogusE {
				t.Errorf("extended error DNSSEC Bogus: %v, want %v", hasEDE, tt.bogusE)
			}
		})
	}
}

// TestSignatureValidity checks the signatures' validity period starts
// from the zone's clock (RFC 4034 §3.1.5), an hour back.
func TestSignatureValidity(t *testing.T) {
	z, _ := signedZone(t, dnslab.ModeSigned)
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	z.Now = func() time.Time { return at }
	s := startLab(t, z)
	r := exchange(t, "udp", s.Addr(), query("baseline.mxlab.test.", dns.TypeMX, withDO))
	sig, _ := r.Answer[len(r.Answer)-1].(*dns.RRSIG)
	if sig == nil {
		t.Fatalf("no RRSIG: %v", r)
	}
	if got, want := dns.TimeToString(sig.Inception), "20261202060000"; got != want {
		t.Errorf("inception %s, want %s", got, want)
	}
	if !sig.ValidityPeriod(at.Add(300*24*time.Hour)) || sig.ValidityPeriod(at.Add(-2*time.Hour)) {
		t.Errorf("validity %s–%s", dns.TimeToString(sig.Inception), dns.TimeToString(sig.Expiration))
	}
}

// TestSignedAnswersFit checks the lab's signed answers fit the 1232 bytes
// of DNS Flag Day 2020, so validators never need TCP for them, and that a
// client that accepts only 512 gets TC and the whole answer over TCP.
func TestSignedAnswersFit(t *testing.T) {
	z, _ := signedZone(t, dnslab.ModeAD)
	s := startLab(t, z)
	for _, q := range []*dns.Msg{
		query("_25._tcp."+sniMX, dns.TypeTLSA, withDO),
		query("x.7c74f8d3197f.sni-reject.mxlab.test.", dns.TypeMX, withDO),
		query("anything.sni-reject.mxlab.test.", dns.TypeA, withDO),
		query(origin, dns.TypeDNSKEY, withDO),
	} {
		r := exchange(t, "udp", s.Addr(), q)
		if r.Truncated {
			t.Errorf("%s %s: truncated at 1232 bytes", q.Question[0].Name, dns.Type(q.Question[0].Qtype))
		}
	}
	small := query("x.7c74f8d3197f.sni-reject.mxlab.test.", dns.TypeMX, func(m *dns.Msg) { m.SetEdns0(512, true) })
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(small, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	whole := exchange(t, "tcp", s.Addr(), small)
	if whole.Truncated || len(whole.Ns) < 5 {
		t.Fatalf("over TCP: %v", whole)
	}
	whole.Compress = true
	if n := whole.Len(); n <= 512 || !r.Truncated {
		t.Errorf("the whole answer is %d bytes; over UDP to a 512-byte client TC is %v, want true", n, r.Truncated)
	}
}
