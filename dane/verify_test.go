package dane

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// verifyCase is one Verify call: the chain as presented, the records as
// looked up, the reference identifiers (testNames when nil) and the time
// (now when zero).
type verifyCase struct {
	chain []*x509.Certificate
	recs  []Record
	names []string
	at    time.Time
}

func TestVerify(t *testing.T) {
	now := time.Now()
	s := newStorePKI(t, now)
	m := newMintedPKI(t, now)

	run := func(t *testing.T, c verifyCase) Result {
		t.Helper()
		names := c.names
		if names == nil {
			names = testNames
		}
		at := c.at
		if at.IsZero() {
			at = now
		}
		r := Verify(c.chain, c.recs, names, at)
		if r.Verified != (r.Matched != nil) || r.Verified != (r.Reason == "") || r.Detail == "" {
			t.Errorf("inconsistent result: %+v", r)
		}
		return r
	}
	// good wants the chain verified by the record at want.Index, with
	// want's depth, origin and name.
	good := func(name string, c verifyCase, want Match) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			r := run(t, c)
			if !r.Verified {
				t.Fatalf("not verified: %s: %s", r.Reason, r.Detail)
			}
			got := *r.Matched
			if got.Index != want.Index || got.Depth != want.Depth || got.FromRecord != want.FromRecord || got.Name != want.Name {
				t.Errorf("matched index %d depth %d from-record %v name %q, want %d %d %v %q (%s)",
					got.Index, got.Depth, got.FromRecord, got.Name, want.Index, want.Depth, want.FromRecord, want.Name, r.Detail)
			}
			if got.Record.String() != c.recs[got.Index].String() {
				t.Errorf("matched record %s, want the record at index %d, %s", got.Record, got.Index, c.recs[got.Index])
			}
		})
	}
	// bad wants the chain refused for reason.
	bad := func(name string, c verifyCase, reason Reason) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			r := run(t, c)
			if r.Verified {
				t.Fatalf("verified by %+v, want %s", *r.Matched, reason)
			}
			if r.Reason != reason {
				t.Errorf("reason %s (%s), want %s", r.Reason, r.Detail, reason)
			}
		})
	}
	ee := Match{Depth: 0}
	ta := func(depth int, name string) Match { return Match{Depth: depth, Name: name} }
	taFromRecord := func(depth int, name string) Match { return Match{Depth: depth, Name: name, FromRecord: true} }
	at := func(i int, m Match) Match { m.Index = i; return m }

	sent := chainOf(s.leaf, s.ca)

	// DANE-EE(3): the leaf's certificate or key, nothing else
	// (RFC 7672 §3.1.1).
	for _, sel := range []uint8{0, 1} {
		for _, mt := range []uint8{0, 1, 2} {
			r := tlsa(t, s.leaf, 3, sel, mt)
			good("dane-ee/"+r.String()[:5], verifyCase{chain: sent, recs: recsOf(r)}, ee)
		}
	}
	bad("dane-ee/3 1 1 of the previous key (tlsa-mismatch)", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.previous, 3, 1, 1))}, ReasonNoMatch)
	good("dane-ee/expired leaf", verifyCase{chain: chainOf(s.expired, s.ca), recs: recsOf(tlsa(t, s.expired, 3, 1, 1))}, ee)
	good("dane-ee/wrong name", verifyCase{chain: chainOf(s.other, s.ca), recs: recsOf(tlsa(t, s.other, 3, 1, 1))}, ee)
	good("dane-ee/self-signed", verifyCase{chain: chainOf(s.self), recs: recsOf(tlsa(t, s.self, 3, 1, 1))}, ee)
	good("dane-ee/no names given", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.leaf, 3, 1, 1)), names: []string{}}, ee)
	good("dane-ee/not yet valid", verifyCase{chain: chainOf(m.notYet, m.root), recs: recsOf(tlsa(t, m.notYet, 3, 0, 1))}, ee)
	good("dane-ee/second record matches", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.previous, 3, 1, 1), tlsa(t, s.leaf, 3, 1, 1))}, at(1, ee))
	bad("dane-ee/the CA's key matches no leaf", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.ca, 3, 1, 1))}, ReasonNoMatch)

	// DANE-TA(2): a trust anchor the leaf chains to, with dates and names
	// (RFC 7672 §3.1.2, §3.2.2).
	for _, sel := range []uint8{0, 1} {
		for _, mt := range []uint8{0, 1, 2} {
			r := tlsa(t, s.ca, 2, sel, mt)
			good("dane-ta/"+r.String()[:5]+"/ca sent", verifyCase{chain: sent, recs: recsOf(r)}, ta(1, "mx.example.test"))
		}
	}
	// A digest cannot stand in for an anchor the server did not send
	// (RFC 7672 §3.1.2); the anchor itself can: "2 0 0" MUST
	// (RFC 7671 §5.2.2), "2 1 0" RECOMMENDED (RFC 7671 §5.2.3).
	for _, r := range []Record{tlsa(t, s.ca, 2, 0, 1), tlsa(t, s.ca, 2, 1, 1), tlsa(t, s.ca, 2, 0, 2), tlsa(t, s.ca, 2, 1, 2)} {
		bad("dane-ta/"+r.String()[:5]+"/ca not sent", verifyCase{chain: chainOf(s.leaf), recs: recsOf(r)}, ReasonNoMatch)
	}
	good("dane-ta/2 0 0/ca not sent", verifyCase{chain: chainOf(s.leaf), recs: recsOf(tlsa(t, s.ca, 2, 0, 0))}, taFromRecord(1, "mx.example.test"))
	good("dane-ta/2 1 0/ca not sent", verifyCase{chain: chainOf(s.leaf), recs: recsOf(tlsa(t, s.ca, 2, 1, 0))}, taFromRecord(1, "mx.example.test"))
	good("dane-ta/next-hop domain", verifyCase{chain: chainOf(s.nextHop, s.ca), recs: recsOf(tlsa(t, s.ca, 2, 0, 1))}, ta(1, "example.test"))
	good("dane-ta/mx name first", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.ca, 2, 1, 1)), names: []string{"example.test", "mx.example.test"}}, ta(1, "mx.example.test"))
	good("dane-ta/case and trailing dot", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.ca, 2, 0, 1)), names: []string{"MX.Example.TEST."}}, ta(1, "MX.Example.TEST."))
	bad("dane-ta/next-hop domain not a reference identifier", verifyCase{chain: chainOf(s.nextHop, s.ca), recs: recsOf(tlsa(t, s.ca, 2, 0, 1)), names: []string{"mx.example.test"}}, ReasonTANameMismatch)
	bad("dane-ta/wrong name", verifyCase{chain: chainOf(s.other, s.ca), recs: recsOf(tlsa(t, s.ca, 2, 0, 1))}, ReasonTANameMismatch)
	bad("dane-ta/no names given", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.ca, 2, 0, 1)), names: []string{}}, ReasonTANameMismatch)
	bad("dane-ta/expired leaf", verifyCase{chain: chainOf(s.expired, s.ca), recs: recsOf(tlsa(t, s.ca, 2, 0, 1))}, ReasonTAExpired)
	bad("dane-ta/expired leaf, 2 0 0 ca not sent", verifyCase{chain: chainOf(s.expired), recs: recsOf(tlsa(t, s.ca, 2, 0, 0))}, ReasonTAExpired)
	bad("dane-ta/checked later than the leaf lives", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.ca, 2, 0, 1)), at: s.leaf.NotAfter.Add(time.Second)}, ReasonTAExpired)
	good("dane-ta/checked at the leaf's last second", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.ca, 2, 0, 1)), at: s.leaf.NotAfter}, ta(1, "mx.example.test"))
	bad("dane-ta/not yet valid leaf", verifyCase{chain: chainOf(m.notYet, m.root), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ReasonTAExpired)
	bad("dane-ta/expired anchor", verifyCase{chain: chainOf(m.oldLeaf, m.oldRoot), recs: recsOf(tlsa(t, m.oldRoot, 2, 0, 1))}, ReasonTAExpired)
	good("dane-ee/leaf under an expired root", verifyCase{chain: chainOf(m.oldLeaf, m.oldRoot), recs: recsOf(tlsa(t, m.oldLeaf, 3, 1, 1))}, ee)
	bad("dane-ta/leaf of another CA", verifyCase{chain: chainOf(s.foreignLeaf, s.ca), recs: recsOf(tlsa(t, s.ca, 2, 0, 1))}, ReasonTABadChain)
	bad("dane-ta/anchor not in another CA's chain", verifyCase{chain: chainOf(s.foreignLeaf, s.foreignCA), recs: recsOf(tlsa(t, s.ca, 2, 0, 1))}, ReasonNoMatch)
	bad("dane-ta/2 0 0 did not issue another CA's leaf", verifyCase{chain: chainOf(s.foreignLeaf), recs: recsOf(tlsa(t, s.ca, 2, 0, 0))}, ReasonNoMatch)
	bad("dane-ta/2 1 0 did not issue another CA's leaf", verifyCase{chain: chainOf(s.foreignLeaf), recs: recsOf(tlsa(t, s.ca, 2, 1, 0))}, ReasonNoMatch)
	// A DANE-TA record never matches the leaf itself (OpenSSL: depth 0
	// is DANE-EE's), so a self-signed leaf is not its own anchor.
	bad("dane-ta/self-signed leaf as its own anchor", verifyCase{chain: chainOf(s.self), recs: recsOf(tlsa(t, s.self, 2, 0, 1))}, ReasonNoMatch)
	bad("dane-ta/self-signed leaf as its own 2 0 0 anchor", verifyCase{chain: chainOf(s.self), recs: recsOf(tlsa(t, s.self, 2, 0, 0))}, ReasonNoMatch)
	bad("dane-ta/self-signed leaf as its own 2 1 0 anchor", verifyCase{chain: chainOf(s.self), recs: recsOf(tlsa(t, s.self, 2, 1, 0))}, ReasonNoMatch)

	// Wildcards (RFC 6125 §6.4.3): one whole left-most label.
	wild := chainOf(s.wildcard, s.ca)
	caRec := recsOf(tlsa(t, s.ca, 2, 0, 1))
	good("wildcard/one label", verifyCase{chain: wild, recs: caRec, names: []string{"mx.example.test"}}, ta(1, "mx.example.test"))
	bad("wildcard/two labels", verifyCase{chain: wild, recs: caRec, names: []string{"a.b.example.test"}}, ReasonTANameMismatch)
	bad("wildcard/no label", verifyCase{chain: wild, recs: caRec, names: []string{"example.test"}}, ReasonTANameMismatch)
	good("wildcard/next-hop matches where the mx does not", verifyCase{chain: wild, recs: caRec, names: []string{"a.b.example.test", "smtp.example.test"}}, ta(1, "smtp.example.test"))
	// The subject CN counts only without subjectAltName DNS names
	// (RFC 6125 §6.4.4).
	good("names/cn without san", verifyCase{chain: chainOf(m.cnOnly, m.root), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ta(1, "mx.example.test"))

	// Longer chains, sent in order, out of order, or incomplete.
	good("chain/anchor is the root", verifyCase{chain: chainOf(m.leaf, m.inter, m.root), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ta(2, "mx.example.test"))
	good("chain/anchor is the intermediate", verifyCase{chain: chainOf(m.leaf, m.inter, m.root), recs: recsOf(tlsa(t, m.inter, 2, 1, 1))}, ta(1, "mx.example.test"))
	good("chain/out of order (RFC 8446 §4.4.2)", verifyCase{chain: chainOf(m.leaf, m.root, m.inter), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ta(2, "mx.example.test"))
	good("chain/extra certificates", verifyCase{chain: chainOf(m.leaf, s.ca, m.inter, s.leaf, m.root), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ta(2, "mx.example.test"))
	bad("chain/root digest, root not sent", verifyCase{chain: chainOf(m.leaf, m.inter), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ReasonNoMatch)
	good("chain/2 0 0 root not sent", verifyCase{chain: chainOf(m.leaf, m.inter), recs: recsOf(tlsa(t, m.root, 2, 0, 0))}, taFromRecord(2, "mx.example.test"))
	good("chain/2 1 0 root not sent", verifyCase{chain: chainOf(m.leaf, m.inter), recs: recsOf(tlsa(t, m.root, 2, 1, 0))}, taFromRecord(2, "mx.example.test"))
	bad("chain/intermediate missing", verifyCase{chain: chainOf(m.leaf, m.root), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ReasonTABadChain)
	bad("chain/intermediate missing, 2 0 0", verifyCase{chain: chainOf(m.leaf), recs: recsOf(tlsa(t, m.root, 2, 0, 0))}, ReasonNoMatch)
	bad("chain/path length exceeded", verifyCase{chain: chainOf(m.zeroLeaf, m.zeroInter, m.zeroRoot), recs: recsOf(tlsa(t, m.zeroRoot, 2, 0, 1))}, ReasonTABadChain)
	bad("chain/path length exceeded, 2 0 0 root not sent", verifyCase{chain: chainOf(m.zeroLeaf, m.zeroInter), recs: recsOf(tlsa(t, m.zeroRoot, 2, 0, 0))}, ReasonTABadChain)
	good("chain/anchor below the path length limit", verifyCase{chain: chainOf(m.zeroLeaf, m.zeroInter, m.zeroRoot), recs: recsOf(tlsa(t, m.zeroInter, 2, 0, 1))}, ta(1, "mx.example.test"))
	// SHA-1 signatures do not chain (Go's CheckSignatureFrom; OpenSSL 3
	// at its default security level), with a bare key too.
	bad("chain/sha1 signature", verifyCase{chain: chainOf(m.sha1Leaf, m.root), recs: recsOf(tlsa(t, m.root, 2, 0, 1))}, ReasonTABadChain)
	bad("chain/sha1 signature, 2 0 0 root not sent", verifyCase{chain: chainOf(m.sha1Leaf), recs: recsOf(tlsa(t, m.root, 2, 0, 0))}, ReasonNoMatch)
	bad("chain/sha1 signature, 2 1 0 root not sent", verifyCase{chain: chainOf(m.sha1Leaf), recs: recsOf(tlsa(t, m.root, 2, 1, 0))}, ReasonNoMatch)
	good("chain/sha1 signature, dane-ee", verifyCase{chain: chainOf(m.sha1Leaf, m.root), recs: recsOf(tlsa(t, m.sha1Leaf, 3, 1, 1))}, ee)
	bad("chain/anchor that did not issue the leaf", verifyCase{chain: chainOf(m.leaf, s.leaf), recs: recsOf(tlsa(t, s.leaf, 2, 0, 1))}, ReasonTABadChain)

	// Usability (RFC 7672 §3.1.3, RFC 6698 §4.1, RFC 7671 §9) and what
	// is left when nothing is usable (RFC 7672 §2.2).
	bad("usable/pkix usages only", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.leaf, 1, 1, 1), tlsa(t, s.ca, 0, 0, 1))}, ReasonNoUsableRecords)
	bad("usable/unknown selector and matching type", verifyCase{chain: sent, recs: recsOf(
		Record{Usage: 3, Selector: 7, Matching: 1, Data: tlsa(t, s.leaf, 3, 1, 1).Data},
		Record{Usage: 3, Selector: 1, Matching: 9, Data: tlsa(t, s.leaf, 3, 1, 1).Data})}, ReasonNoUsableRecords)
	bad("usable/no records", verifyCase{chain: sent}, ReasonNoUsableRecords)
	bad("usable/nothing usable beats no certificate", verifyCase{recs: recsOf(tlsa(t, s.leaf, 1, 1, 1))}, ReasonNoUsableRecords)
	good("usable/a matching PKIX-EE record is skipped", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.leaf, 1, 1, 1), tlsa(t, s.leaf, 3, 1, 1))}, at(1, ee))
	bad("usable/a matching PKIX-EE record does not authenticate", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.leaf, 1, 1, 1), tlsa(t, s.previous, 3, 1, 1))}, ReasonNoMatch)
	sum := sha256.Sum256(s.leaf.RawSubjectPublicKeyInfo)
	bad("usable/short digest only", verifyCase{chain: sent, recs: recsOf(Record{3, 1, 1, sum[:31]})}, ReasonNoUsableRecords)
	bad("usable/short digest never matches", verifyCase{chain: sent, recs: recsOf(Record{3, 1, 1, sum[:31]}, tlsa(t, s.previous, 3, 1, 1))}, ReasonNoMatch)
	bad("usable/a SHA2-256 digest in a SHA2-512 record", verifyCase{chain: sent, recs: recsOf(Record{3, 1, 2, sum[:]}, tlsa(t, s.previous, 3, 1, 1))}, ReasonNoMatch)
	bad("certificate/empty chain", verifyCase{recs: recsOf(tlsa(t, s.leaf, 3, 1, 1))}, ReasonNoCertificate)
	bad("certificate/nil leaf", verifyCase{chain: chainOf(nil, s.ca), recs: recsOf(tlsa(t, s.leaf, 3, 1, 1))}, ReasonNoCertificate)

	// Digest algorithm agility (RFC 7671 §9): per usage and selector, the
	// strongest digest present decides; Full(0) always counts.
	wrong512 := Record{3, 1, 2, make([]byte, 64)}
	bad("agility/3 1 2 wrong outranks 3 1 1 right", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.leaf, 3, 1, 1), wrong512)}, ReasonNoMatch)
	good("agility/3 1 2 right, 3 1 1 wrong", verifyCase{chain: sent, recs: recsOf(tlsa(t, s.previous, 3, 1, 1), tlsa(t, s.leaf, 3, 1, 2))}, at(1, ee))
	good("agility/per selector", verifyCase{chain: sent, recs: recsOf(Record{3, 0, 2, make([]byte, 64)}, tlsa(t, s.leaf, 3, 1, 1))}, at(1, ee))
	good("agility/per usage", verifyCase{chain: sent, recs: recsOf(Record{2, 1, 2, make([]byte, 64)}, tlsa(t, s.leaf, 3, 1, 1))}, at(1, ee))
	good("agility/full always counts", verifyCase{chain: sent, recs: recsOf(wrong512, tlsa(t, s.leaf, 3, 1, 0))}, at(1, ee))

	// When every record fails, the one that got furthest is reported.
	bad("furthest/name mismatch over no match", verifyCase{chain: chainOf(s.other, s.ca), recs: recsOf(tlsa(t, s.previous, 3, 1, 1), tlsa(t, s.ca, 2, 0, 1))}, ReasonTANameMismatch)
	bad("furthest/expired over bad chain", verifyCase{chain: chainOf(s.expired, s.ca, s.foreignCA), recs: recsOf(tlsa(t, s.foreignCA, 2, 0, 1), tlsa(t, s.ca, 2, 0, 1))}, ReasonTAExpired)
	good("furthest/any match wins", verifyCase{chain: chainOf(s.other, s.ca), recs: recsOf(tlsa(t, s.ca, 2, 0, 1), tlsa(t, s.other, 3, 1, 1))}, at(1, ee))
}

// TestVerifyDetail checks the sentences say what a user needs to fix the
// problem: for the tlsa-mismatch scenario, the key the server really has.
func TestVerifyDetail(t *testing.T) {
	now := time.Now()
	s := newStorePKI(t, now)
	have := tlsa(t, s.leaf, 3, 1, 1).String()
	r := Verify(chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.previous, 3, 1, 1)), testNames, now)
	if !strings.Contains(r.Detail, strings.TrimPrefix(have, "3 1 1 ")) || !strings.Contains(r.Detail, tlsa(t, s.previous, 3, 1, 1).String()) {
		t.Errorf("detail %q names neither the published 3 1 1 nor the leaf's (%s)", r.Detail, have)
	}
	r = Verify(chainOf(s.other, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), testNames, now)
	if !strings.Contains(r.Detail, "other.test") || !strings.Contains(r.Detail, "mx.example.test") {
		t.Errorf("name mismatch detail %q does not show both sides", r.Detail)
	}
	r = Verify(chainOf(s.expired, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), testNames, now)
	if !strings.Contains(r.Detail, "depth 0") || !strings.Contains(r.Detail, s.expired.NotAfter.UTC().Format(time.RFC3339)) {
		t.Errorf("expiry detail %q does not say which certificate expired when", r.Detail)
	}
	r = Verify(chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.leaf, 3, 1, 1), Record{3, 1, 2, make([]byte, 64)}), testNames, now)
	if !strings.Contains(r.Detail, "RFC 7671 §9") || len(r.Dropped) != 1 || r.Dropped[0].Reason != DropWeakerDigest || r.Dropped[0].Index != 0 {
		t.Errorf("agility: detail %q, dropped %+v: want the 3 1 1 at index 0 set aside and said so", r.Detail, r.Dropped)
	}
	r = Verify(chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.leaf, 1, 1, 1), Record{9, 1, 1, nil}, tlsa(t, s.leaf, 3, 1, 1)), testNames, now)
	if !r.Verified || len(r.Dropped) != 2 || r.Dropped[0].Reason != DropPKIXUsage || r.Dropped[1].Reason != DropUnknownUsage {
		t.Errorf("dropped %+v: a verified result still lists the unusable records", r.Dropped)
	}
}

// TestVerifyZeroTime checks the zero time means now: a leaf valid now
// passes DANE-TA date checks.
func TestVerifyZeroTime(t *testing.T) {
	s := newStorePKI(t, time.Now())
	r := Verify(chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), testNames, time.Time{})
	if !r.Verified {
		t.Fatalf("not verified at the zero time: %s: %s", r.Reason, r.Detail)
	}
	r = Verify(chainOf(s.expired, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), testNames, time.Time{})
	if r.Reason != ReasonTAExpired {
		t.Fatalf("expired leaf at the zero time: %s, want %s", r.Reason, ReasonTAExpired)
	}
}

// TestPostfix checks the log lines measured with Postfix 3.7
// (docs/interop-recipe.md §5, §7) and that nothing unmeasured is made up.
func TestPostfix(t *testing.T) {
	now := time.Now()
	s := newStorePKI(t, now)
	const peer = "mx-mismatch-dane.lab.test[127.1.3.2]:25"
	tests := []struct {
		name   string
		chain  []*x509.Certificate
		recs   []Record
		want   string
		wantOK bool
	}{
		{"tlsa-mismatch", chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.previous, 3, 1, 1)),
			"server certificate verification failed for mx-mismatch-dane.lab.test[127.1.3.2]:25: num=65:no matching DANE TLSA records", true},
		{"baseline", chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.leaf, 3, 1, 1)),
			peer + ": Matched DANE EE certificate at depth 0: 3 1 1 " + strings.ToUpper(strings.TrimPrefix(tlsa(t, s.leaf, 3, 1, 1).String(), "3 1 1 ")), true},
		{"self-signed", chainOf(s.self), recsOf(tlsa(t, s.self, 3, 0, 1)),
			peer + ": Matched DANE EE certificate at depth 0: 3 0 1 " + strings.ToUpper(strings.TrimPrefix(tlsa(t, s.self, 3, 0, 1).String(), "3 0 1 ")), true},
		{"ta-name-mismatch", chainOf(s.other, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)),
			"server certificate verification failed for " + peer + ": num=62:hostname mismatch", true},
		{"ta-verified", chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), "", false},
		{"ta-expired", chainOf(s.expired, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), "", false},
		{"ta-bad-chain", chainOf(s.foreignLeaf, s.ca), recsOf(tlsa(t, s.ca, 2, 0, 1)), "", false},
		{"no-usable-records", chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.leaf, 1, 1, 1)), "", false},
		{"no-certificate", nil, recsOf(tlsa(t, s.leaf, 3, 1, 1)), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Verify(tt.chain, tt.recs, testNames, now).Postfix(peer)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q, %v\nwant %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestResultJSON checks the shape a report embeds: records as zone-file
// text, reasons as their codes.
func TestResultJSON(t *testing.T) {
	s := newStorePKI(t, time.Now())
	r := Verify(chainOf(s.leaf, s.ca), recsOf(tlsa(t, s.leaf, 0, 1, 1), tlsa(t, s.leaf, 3, 1, 1)), testNames, time.Now())
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Verified bool `json:"verified"`
		Matched  struct {
			Index  int    `json:"index"`
			Record string `json:"record"`
			Depth  int    `json:"depth"`
		} `json:"matched"`
		Dropped []struct {
			Index  int    `json:"index"`
			Record string `json:"record"`
			Reason string `json:"reason"`
		} `json:"dropped"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !got.Verified || got.Matched.Index != 1 || got.Matched.Record != tlsa(t, s.leaf, 3, 1, 1).String() ||
		len(got.Dropped) != 1 || got.Dropped[0].Reason != "pkix-usage" || !strings.HasPrefix(got.Dropped[0].Record, "0 1 1 ") {
		t.Errorf("json %s", b)
	}
	if strings.Contains(string(b), `"reason":""`) {
		t.Errorf("a verified result carries an empty reason: %s", b)
	}
}
