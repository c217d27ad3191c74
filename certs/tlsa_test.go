package certs

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// TestTLSAMatchesOpenSSL computes each selector/matching combination with
// the openssl command line, the way admins compute TLSA records, and
// compares it with ours.
func TestTLSAMatchesOpenSSL(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []KeyType{RSA2048, ECDSAP256} {
		l, err := s.Leaf(LeafSpec{Name: string(key), DNSNames: []string{"mx.baseline.mxlab.test"}, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		run := func(stdin []byte, args ...string) []byte {
			t.Helper()
			cmd := exec.Command(openssl, args...)
			cmd.Stdin = bytes.NewReader(stdin)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
			}
			return out
		}
		certDER := run(nil, "x509", "-in", l.CertPath, "-outform", "DER")
		spkiDER := run(run(nil, "x509", "-in", l.CertPath, "-noout", "-pubkey"), "pkey", "-pubin", "-outform", "DER")
		digest := func(alg string, data []byte) string {
			out := string(run(data, "dgst", "-"+alg, "-r"))
			return strings.Fields(out)[0]
		}
		tests := []struct {
			selector, matching uint8
			want               string
		}{
			{SelectorSPKI, MatchSHA256, digest("sha256", spkiDER)},
			{SelectorSPKI, MatchSHA512, digest("sha512", spkiDER)},
			{SelectorCert, MatchSHA256, digest("sha256", certDER)},
			{SelectorCert, MatchSHA512, digest("sha512", certDER)},
			{SelectorCert, MatchFull, string(run(certDER, "enc", "-base64", "-A"))},
		}
		for _, tt := range tests {
			got, err := AssociationData(l.Cert, tt.selector, tt.matching)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if tt.matching == MatchFull {
				want = hexOfBase64(t, tt.want)
			}
			if got != want {
				t.Errorf("%s: %d %d: got %s, openssl says %s", key, tt.selector, tt.matching, got, want)
			}
		}
	}
}

func TestTLSAErrors(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTLSA(s.CA(), 4, 1, 1); err == nil {
		t.Error("usage 4 accepted")
	}
	if _, err := NewTLSA(s.CA(), 3, 2, 1); err == nil {
		t.Error("selector 2 accepted")
	}
	if _, err := NewTLSA(s.CA(), 3, 1, 3); err == nil {
		t.Error("matching type 3 accepted")
	}
}

func TestChainTLSA(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Leaf(LeafSpec{Name: "x", DNSNames: []string{"mx.x.test"}, Key: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ChainTLSA([]*x509Cert{l.Cert, s.CA()})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 12 || recs[0].Usage != 3 || recs[6].Usage != 2 {
		t.Errorf("ChainTLSA gave %d records: %v", len(recs), recs)
	}
	ca, _ := ChainTLSA([]*x509Cert{s.CA()})
	if len(ca) != 12 {
		t.Errorf("a lone CA certificate gets usages 3 and 2: %d records", len(ca))
	}
}
