package dnslab_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

func TestZoneValidate(t *testing.T) {
	rr := func(s string) dns.RR {
		t.Helper()
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	zone := func(origin string, insecure []string, rrs ...dns.RR) *dnslab.Zone {
		return &dnslab.Zone{Origin: origin, TTL: 1, Records: rrs, Insecure: insecure}
	}
	good := func(z *dnslab.Zone) {
		t.Helper()
		if err := z.Validate(); err != nil {
			t.Errorf("%s: %v", z.Origin, err)
		}
	}
	bad := func(z *dnslab.Zone, target error) {
		t.Helper()
		err := z.Validate()
		if err == nil {
			t.Errorf("%s %v: no error", z.Origin, z.Records)
			return
		}
		if !errors.Is(err, target) || !strings.HasPrefix(err.Error(), "dnslab: ") {
			t.Errorf("%s: error %q, want %v with the dnslab: prefix", z.Origin, err, target)
		}
	}

	good(testZone(t))
	good(dnslab.NewZone("MXLAB.test", 1))                                                           // made canonical
	good(zone("mxlab.test.", nil, rr("mxlab.test. 1 IN SOA a. b. 1 2 3 4 5")))                      // the zone's own SOA
	good(zone("mxlab.test.", nil, rr("x.mxlab.test. 1 IN CNAME y.mxlab.test.")))                    // a lone CNAME
	good(zone("mxlab.test.", []string{"noad.mxlab.test"}, rr("noad.mxlab.test. 1 IN A 127.0.0.1"))) // an insecure name without its dot

	bad(zone("", nil), dnslab.ErrBadZone)                                                          // no origin
	bad(zone(".", nil), dnslab.ErrBadZone)                                                         // the root answers the probe
	bad(zone("a..b.", nil), dnslab.ErrBadZone)                                                     // not a name
	bad(zone("mxlab.test.", nil, rr("example.com. 1 IN A 127.0.0.1")), dnslab.ErrOutsideZone)      // out of the zone
	bad(zone("mxlab.test.", nil, nil), dnslab.ErrBadZone)                                          // a nil record
	bad(zone("mxlab.test.", nil, rr("x.mxlab.test. 1 CH TXT a")), dnslab.ErrBadZone)               // not class IN
	bad(zone("mxlab.test.", nil, rr("x.mxlab.test. 1 IN SOA a. b. 1 2 3 4 5")), dnslab.ErrBadZone) // an SOA away from the apex
	bad(zone("mxlab.test.", nil,
		rr("x.mxlab.test. 1 IN CNAME y.mxlab.test."),
		rr("x.mxlab.test. 1 IN A 127.0.0.1")), dnslab.ErrBadZone) // CNAME and other data
	bad(zone("mxlab.test.", nil,
		rr("x.mxlab.test. 1 IN A 127.0.0.1"),
		rr("X.mxlab.test. 1 IN CNAME y.mxlab.test.")), dnslab.ErrBadZone) // the same, in the other order and case
	bad(zone("mxlab.test.", nil,
		rr("x.mxlab.test. 1 IN CNAME y.mxlab.test."),
		rr("x.mxlab.test. 1 IN CNAME z.mxlab.test.")), dnslab.ErrBadZone) // two CNAMEs
	bad(zone("mxlab.test.", nil, rr("mxlab.test. 1 IN CNAME y.example.")), dnslab.ErrBadZone) // a CNAME at the apex
	bad(zone("mxlab.test.", []string{"noad.example."}), dnslab.ErrOutsideZone)                // insecure outside the zone
}

// TestStartRejectsBadZone checks Start refuses a zone Validate rejects.
func TestStartRejectsBadZone(t *testing.T) {
	z := dnslab.NewZone(origin, 1)
	r, _ := dns.NewRR("example.com. 1 IN A 127.0.0.1")
	z.Add(r)
	s, err := dnslab.Start("127.0.0.1:0", z, nil)
	if err == nil {
		s.Close()
		t.Fatal("no error")
	}
	if !errors.Is(err, dnslab.ErrOutsideZone) {
		t.Fatalf("error %q, want ErrOutsideZone", err)
	}
}

// TestZoneSnapshot checks a running server does not see changes to its
// Zone.
func TestZoneSnapshot(t *testing.T) {
	z := testZone(t)
	s := startLab(t, z)
	r, _ := dns.NewRR("late.mxlab.test. 1 IN A 127.0.0.1")
	z.Add(r)
	check(t, exchange(t, "udp", s.Addr(), query("late.mxlab.test.", dns.TypeA)), want{rcode: dns.RcodeNameError, soa: true, aa: true})
}
