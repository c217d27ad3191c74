package dane

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestUsable(t *testing.T) {
	s := newStorePKI(t, time.Now())
	// good wants r usable.
	good := func(r Record) {
		t.Helper()
		usable, dropped := Usable([]Record{r})
		if len(usable) != 1 || len(dropped) != 0 {
			t.Errorf("%s: dropped %+v, want it usable", r, dropped)
		}
	}
	// bad wants r dropped for why.
	bad := func(r Record, why DropReason) {
		t.Helper()
		usable, dropped := Usable([]Record{r})
		if len(usable) != 0 || len(dropped) != 1 || dropped[0].Reason != why || dropped[0].Index != 0 || dropped[0].Detail == "" {
			t.Errorf("%s: usable %v, dropped %+v, want it dropped for %s", r, usable, dropped, why)
		}
	}

	for _, u := range []uint8{2, 3} {
		for _, sel := range []uint8{0, 1} {
			for _, m := range []uint8{0, 1, 2} {
				good(tlsa(t, s.leaf, u, sel, m))
			}
		}
	}
	good(Record{3, 1, 1, make([]byte, 32)}) // any 32 bytes are a SHA2-256 digest
	good(Record{2, 0, 2, make([]byte, 64)})

	bad(tlsa(t, s.leaf, 0, 0, 1), DropPKIXUsage) // PKIX-TA: RFC 7672 §3.1.3
	bad(tlsa(t, s.leaf, 1, 1, 1), DropPKIXUsage) // PKIX-EE: RFC 7672 §3.1.3
	bad(Record{1, 7, 9, nil}, DropPKIXUsage)     // the first fault is named
	bad(Record{4, 1, 1, make([]byte, 32)}, DropUnknownUsage)
	bad(Record{255, 1, 1, make([]byte, 32)}, DropUnknownUsage)
	bad(Record{3, 7, 1, make([]byte, 32)}, DropUnknownSelector)
	bad(Record{3, 255, 1, make([]byte, 32)}, DropUnknownSelector)
	bad(Record{3, 1, 9, make([]byte, 32)}, DropUnknownMatching)
	bad(Record{3, 1, 3, make([]byte, 32)}, DropUnknownMatching)
	bad(Record{3, 1, 1, make([]byte, 31)}, DropBadDigestLength) // RFC 7671 §9: malformed
	bad(Record{3, 1, 1, make([]byte, 33)}, DropBadDigestLength)
	bad(Record{3, 1, 1, nil}, DropBadDigestLength)
	bad(Record{3, 1, 2, make([]byte, 32)}, DropBadDigestLength) // a SHA2-256 digest in a SHA2-512 record
	bad(Record{2, 0, 1, make([]byte, 64)}, DropBadDigestLength) // and the other way
	bad(Record{3, 0, 0, []byte("not a certificate")}, DropMalformedData)
	bad(Record{3, 1, 0, []byte("not a key")}, DropMalformedData)
	bad(Record{3, 0, 0, nil}, DropMalformedData)
	bad(Record{3, 0, 0, s.leaf.RawSubjectPublicKeyInfo}, DropMalformedData) // a key where a certificate belongs
	bad(Record{3, 0, 0, append(append([]byte{}, s.leaf.Raw...), 0)}, DropMalformedData)

	// Several at once keep their order and indexes.
	recs := []Record{tlsa(t, s.leaf, 1, 1, 1), tlsa(t, s.leaf, 3, 1, 1), {3, 7, 1, nil}, tlsa(t, s.ca, 2, 0, 1)}
	usable, dropped := Usable(recs)
	if len(usable) != 2 || usable[0].String() != recs[1].String() || usable[1].String() != recs[3].String() {
		t.Errorf("usable %v, want records 1 and 3", usable)
	}
	if len(dropped) != 2 || dropped[0].Index != 0 || dropped[1].Index != 2 || dropped[1].Reason != DropUnknownSelector {
		t.Errorf("dropped %+v, want records 0 (pkix-usage) and 2 (unknown-selector)", dropped)
	}
}

func TestStrongestDigests(t *testing.T) {
	z := func(n int) []byte { return make([]byte, n) }
	recs := []Record{
		{3, 1, 1, z(32)}, // 0: set aside by 2
		{3, 1, 0, z(91)}, // 1: Full always counts
		{3, 1, 2, z(64)}, // 2: strongest for 3 1
		{3, 0, 1, z(32)}, // 3: only digest for 3 0
		{2, 1, 1, z(32)}, // 4: only digest for 2 1
		{3, 1, 2, z(64)}, // 5: as strong as 2
	}
	kept, dropped := strongestDigests(recs, []int{0, 1, 2, 3, 4, 5})
	if !slices.Equal(kept, []int{1, 2, 3, 4, 5}) {
		t.Errorf("kept %v, want [1 2 3 4 5]", kept)
	}
	if len(dropped) != 1 || dropped[0].Index != 0 || dropped[0].Reason != DropWeakerDigest {
		t.Errorf("dropped %+v, want record 0 as weaker-digest", dropped)
	}
}

func TestFromRR(t *testing.T) {
	rr := func(u, s, m uint8, data string) *dns.TLSA {
		return &dns.TLSA{Hdr: dns.RR_Header{Name: "_25._tcp.mx.example.test.", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 60},
			Usage: u, Selector: s, MatchingType: m, Certificate: data}
	}
	// good wants the RR's record to be want.
	good := func(in *dns.TLSA, want Record) {
		t.Helper()
		got, err := FromRR([]*dns.TLSA{in})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			return
		}
		if len(got) != 1 || got[0].String() != want.String() {
			t.Errorf("%s: got %v, want %s", in, got, want)
		}
	}
	// bad wants an error naming the record; target, if set, is in its chain.
	bad := func(in *dns.TLSA, target error) {
		t.Helper()
		_, err := FromRR([]*dns.TLSA{rr(3, 1, 1, strings.Repeat("00", 32)), in})
		if err == nil {
			t.Errorf("%v: no error", in)
			return
		}
		if !strings.HasPrefix(err.Error(), "dane: TLSA record 1 ") {
			t.Errorf("%v: error %q does not name record 1", in, err)
		}
		if target != nil && !errors.Is(err, target) {
			t.Errorf("%v: error %q, want %v", in, err, target)
		}
	}

	good(rr(3, 1, 1, "4cf0a1"), Record{3, 1, 1, []byte{0x4c, 0xf0, 0xa1}})
	good(rr(3, 1, 1, "4CF0A1"), Record{3, 1, 1, []byte{0x4c, 0xf0, 0xa1}}) // case does not matter
	good(rr(1, 7, 9, "00"), Record{1, 7, 9, []byte{0}})                    // parameters are Usable's business
	good(rr(3, 1, 1, ""), Record{3, 1, 1, nil})

	bad(rr(3, 1, 1, "zz"), nil)
	bad(rr(3, 1, 1, "4cf"), hex.ErrLength)
	bad(rr(3, 1, 1, "4c f0"), nil)
	bad(nil, nil)

	// A record parsed from zone text and packed on the wire, as miekg/dns
	// hands it to a client, comes through whole.
	parsed, err := dns.NewRR("_25._tcp.mx.example.test. 60 IN TLSA 3 1 1 " + strings.Repeat("AB", 32))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromRR([]*dns.TLSA{parsed.(*dns.TLSA)})
	if err != nil || len(got) != 1 || len(got[0].Data) != 32 || got[0].Data[0] != 0xab {
		t.Errorf("parsed RR: %v, %v", got, err)
	}
	if got, err := FromRR(nil); err != nil || len(got) != 0 {
		t.Errorf("no RRs: %v, %v", got, err)
	}
}

func TestRecordText(t *testing.T) {
	r := Record{3, 1, 1, []byte{0x4c, 0xf0}}
	if got := r.String(); got != "3 1 1 4cf0" {
		t.Errorf("String %q", got)
	}
	if got, _ := r.MarshalText(); string(got) != "3 1 1 4cf0" {
		t.Errorf("MarshalText %q", got)
	}
	for _, tt := range []struct {
		r    Record
		want string
	}{
		{Record{3, 1, 1, nil}, "DANE-EE SPKI SHA2-256"},
		{Record{2, 0, 2, nil}, "DANE-TA Cert SHA2-512"},
		{Record{0, 0, 0, nil}, "PKIX-TA Cert Full"},
		{Record{1, 1, 0, nil}, "PKIX-EE SPKI Full"},
		{Record{4, 7, 9, nil}, "usage(4) selector(7) matching(9)"},
	} {
		if got := tt.r.Acronyms(); got != tt.want {
			t.Errorf("%s: Acronyms %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestParseReason(t *testing.T) {
	for _, r := range reasons {
		if got, err := ParseReason(string(r)); err != nil || got != r {
			t.Errorf("%s: %v, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "no_match", "NO-MATCH", "verified"} {
		if _, err := ParseReason(s); err == nil || !strings.HasPrefix(err.Error(), "dane: unknown reason ") {
			t.Errorf("%q: error %v", s, err)
		}
	}
}
