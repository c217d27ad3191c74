package dane

import (
	"bytes"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
)

var update = flag.Bool("update", false, "rewrite testdata/chain.pem and the FuzzVerify seed corpus")

// The fuzz target verifies arbitrary records against a fixed chain, so
// that its seeds (which hold digests of that chain) stay meaningful: a
// leaf for mx.example.test and the lab CA that issued it, made once by
// certs.Store and kept in testdata/chain.pem. `go test ./dane -run
// TestFuzzFixture -update` makes a new one and rewrites the seeds.
const (
	fixtureChain = "testdata/chain.pem"
	seedDir      = "testdata/fuzz/FuzzVerify"
)

// fixture returns the fixed chain (leaf, CA) and a time it is valid at.
func fixture(tb testing.TB) (leaf, ca *x509.Certificate, at time.Time) {
	tb.Helper()
	chain, err := certs.ReadCerts(fixtureChain)
	if err != nil {
		tb.Fatal(err)
	}
	if len(chain) != 2 {
		tb.Fatalf("%s: %d certificates, want the leaf and its CA", fixtureChain, len(chain))
	}
	return chain[0], chain[1], chain[0].NotBefore.Add(24 * time.Hour)
}

// shapes are the chains the fuzzer presents, chosen by a byte: as sent,
// leaf only, reversed, with duplicates, empty.
func shapes(leaf, ca *x509.Certificate) [][]*x509.Certificate {
	return [][]*x509.Certificate{
		{leaf, ca},
		{leaf},
		{ca, leaf},
		{leaf, ca, ca},
		{leaf, leaf},
		{},
		{ca},
	}
}

func FuzzVerify(f *testing.F) {
	leaf, ca, at := fixture(f)
	chains := shapes(leaf, ca)
	names := []string{"mx.example.test", "example.test"}
	f.Fuzz(func(t *testing.T, u1, s1, m1 uint8, d1 []byte, u2, s2, m2 uint8, d2 []byte, shape uint8) {
		chain := chains[int(shape)%len(chains)]
		recs := []Record{{u1, s1, m1, d1}, {u2, s2, m2, d2}}
		r := Verify(chain, recs, names, at)
		if r.Verified != (r.Matched != nil) || r.Verified != (r.Reason == "") || r.Detail == "" {
			t.Fatalf("inconsistent result %+v", r)
		}
		if r.Reason != "" && !slices.Contains(reasons, r.Reason) {
			t.Fatalf("undocumented reason %q", r.Reason)
		}
		usable, _ := Usable(recs)
		if len(usable) == 0 && r.Reason != ReasonNoUsableRecords {
			t.Fatalf("no usable records but reason %q", r.Reason)
		}
		if r.Verified {
			m := r.Matched
			rec := recs[m.Index]
			if why, _ := unusable(rec); why != "" {
				t.Fatalf("verified by unusable record %s (%s)", rec, why)
			}
			if rec.Usage == 3 && (m.Depth != 0 || !matches(chain[0], rec)) {
				t.Fatalf("DANE-EE match %+v that is not the leaf's", m)
			}
			if rec.Usage == 2 && m.Depth == 0 {
				t.Fatalf("DANE-TA match at depth 0: %+v", m)
			}
		}
		r.Postfix("mx.example.test[127.0.0.1]:25")
	})
}

// fuzzSeed is one seed: two records and a chain shape.
type fuzzSeed struct {
	name   string
	r1, r2 Record
	shape  uint8
}

// fuzzSeeds are the starting points, made from the fixture so that they
// reach every branch: matches of each kind, anchors not sent, failures,
// unusable and malformed records.
func fuzzSeeds(t *testing.T, leaf, ca *x509.Certificate) []fuzzSeed {
	none := Record{Usage: 3, Selector: 1, Matching: 1, Data: make([]byte, 32)}
	return []fuzzSeed{
		{"ee-311-baseline", tlsa(t, leaf, 3, 1, 1), none, 0},
		{"ee-300-leaf-only", tlsa(t, leaf, 3, 0, 0), none, 1},
		{"ee-312-agility", none, tlsa(t, leaf, 3, 1, 2), 0},
		{"ee-tlsa-mismatch", none, none, 0},
		{"ta-201-ca-sent", tlsa(t, ca, 2, 0, 1), none, 0},
		{"ta-211-ca-not-sent", tlsa(t, ca, 2, 1, 1), none, 1},
		{"ta-200-ca-not-sent", tlsa(t, ca, 2, 0, 0), none, 1},
		{"ta-210-ca-not-sent", tlsa(t, ca, 2, 1, 0), none, 1},
		{"ta-212-leaf-not-first", tlsa(t, ca, 2, 1, 2), none, 2}, // the CA sent first is the leaf: no anchor above it
		{"ta-202-duplicates", tlsa(t, ca, 2, 0, 2), none, 3},
		{"ta-leaf-as-anchor", tlsa(t, leaf, 2, 0, 1), none, 4},
		{"pkix-only", tlsa(t, leaf, 1, 1, 1), tlsa(t, ca, 0, 0, 1), 0},
		{"unknown-parameters", Record{Usage: 3, Selector: 7, Matching: 1, Data: make([]byte, 32)}, Record{Usage: 3, Selector: 1, Matching: 9}, 0},
		{"short-digest", Record{Usage: 3, Selector: 1, Matching: 1, Data: tlsa(t, leaf, 3, 1, 1).Data[:31]}, none, 0},
		{"garbage-full", Record{Usage: 2, Selector: 0, Matching: 0, Data: []byte{0x30, 0x82, 0xff, 0xff}}, Record{Usage: 2, Selector: 1, Matching: 0, Data: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}, 1},
		{"empty-chain", tlsa(t, leaf, 3, 1, 1), none, 5},
		{"ca-only", tlsa(t, ca, 2, 0, 1), tlsa(t, ca, 3, 1, 1), 6}, // the CA as the leaf, its key published as DANE-EE
	}
}

// encode writes a seed in the corpus file format of `go test -fuzz`.
func (s fuzzSeed) encode() []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, r := range []Record{s.r1, s.r2} {
		fmt.Fprintf(&b, "byte(%q)\nbyte(%q)\nbyte(%q)\n[]byte(%q)\n", r.Usage, r.Selector, r.Matching, r.Data)
	}
	fmt.Fprintf(&b, "byte(%q)\n", s.shape)
	return b.Bytes()
}

// TestFuzzFixture checks the fixture and the seed corpus agree: each seed
// file is what the fixture makes, and the seeds meant to verify do. With
// -update it makes a new fixture and corpus.
func TestFuzzFixture(t *testing.T) {
	if *update {
		store, err := certs.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := store.Leaf(certs.LeafSpec{Name: "baseline", DNSNames: []string{"mx.example.test"}, Key: certs.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		leafPEM, err := os.ReadFile(l.CertPath)
		if err != nil {
			t.Fatal(err)
		}
		caPEM, err := os.ReadFile(store.CAPath())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixtureChain, append(leafPEM, caPEM...), 0o644); err != nil {
			t.Fatal(err)
		}
		leaf, ca, _ := fixture(t)
		if err := os.RemoveAll(seedDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range fuzzSeeds(t, leaf, ca) {
			if err := os.WriteFile(filepath.Join(seedDir, s.name), s.encode(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	leaf, ca, at := fixture(t)
	if leaf.CheckSignatureFrom(ca) != nil || !slices.Equal(leaf.DNSNames, []string{"mx.example.test"}) {
		t.Fatalf("%s: want a leaf for mx.example.test issued by the CA that follows it", fixtureChain)
	}
	verified := map[string]bool{
		"ee-311-baseline": true, "ee-300-leaf-only": true, "ee-312-agility": true,
		"ta-201-ca-sent": true, "ta-200-ca-not-sent": true, "ta-210-ca-not-sent": true,
		"ta-202-duplicates": true, "ca-only": true,
	}
	seeds := fuzzSeeds(t, leaf, ca)
	for _, s := range seeds {
		got, err := os.ReadFile(filepath.Join(seedDir, s.name))
		if err != nil || !bytes.Equal(got, s.encode()) {
			t.Errorf("%s/%s is not what %s makes (err %v): run go test ./dane -run TestFuzzFixture -update", seedDir, s.name, fixtureChain, err)
		}
		r := Verify(shapes(leaf, ca)[s.shape], []Record{s.r1, s.r2}, testNames, at)
		if r.Verified != verified[s.name] {
			t.Errorf("seed %s: verified %v (%s: %s), want %v", s.name, r.Verified, r.Reason, r.Detail, verified[s.name])
		}
	}
}
