package certs

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"
)

func TestStorePersists(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s1, err := Open(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	spec := LeafSpec{Name: "baseline", DNSNames: []string{"mx.baseline.mxlab.test"}, Key: ECDSAP256}
	l1, err := s1.Leaf(spec)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.CA().Equal(s1.CA()) {
		t.Error("CA changed across Open")
	}
	l2, err := s2.Leaf(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !l2.Cert.Equal(l1.Cert) {
		t.Error("leaf re-issued although it still fits")
	}
	if _, err := l2.Cert.Verify(x509.VerifyOptions{Roots: s2.CAPool(), DNSName: "mx.baseline.mxlab.test", CurrentTime: now}); err != nil {
		t.Errorf("leaf does not verify against the lab CA: %v", err)
	}

	tests := []struct {
		name   string
		spec   LeafSpec
		at     time.Time
		reissu bool
	}{
		{"same", spec, now, false},
		{"names changed", LeafSpec{Name: "baseline", DNSNames: []string{"mx2.baseline.mxlab.test"}, Key: ECDSAP256}, now, true},
		{"close to expiry", spec, now.Add(leafValidity - 24*time.Hour), true},
		{"self-signed now", LeafSpec{Name: "baseline", DNSNames: spec.DNSNames, SelfSigned: true, Key: ECDSAP256}, now, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = tt.at
			defer func() { now = time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC) }()
			l, err := s2.Leaf(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := !l.Cert.Equal(l1.Cert); got != tt.reissu {
				t.Errorf("re-issued = %v, want %v", got, tt.reissu)
			}
			// The key survives every re-issue, so 3 1 1 records stay valid.
			if !samePublicKey(l.Cert.PublicKey, l1.Cert.PublicKey) {
				t.Error("key changed")
			}
			l1 = l
		})
	}
	if st, err := os.Stat(l1.KeyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", st.Mode(), err)
	}
}

func TestSelfSigned(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Leaf(LeafSpec{Name: "self-signed", DNSNames: []string{"mx.self-signed.mxlab.test"}, SelfSigned: true, Key: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Cert.Verify(x509.VerifyOptions{Roots: s.CAPool()}); err == nil {
		t.Error("a self-signed leaf verifies against the lab CA")
	}
	if l.Cert.Issuer.String() != l.Cert.Subject.String() {
		t.Errorf("issuer %q != subject %q", l.Cert.Issuer, l.Cert.Subject)
	}
}

func TestLeafErrors(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []LeafSpec{
		{Name: "", DNSNames: []string{"a"}},
		{Name: "../x", DNSNames: []string{"a"}},
		{Name: "x"},
		{Name: "x", DNSNames: []string{"a"}, Key: "dsa"},
	} {
		if _, err := s.Leaf(spec); err == nil || !strings.HasPrefix(err.Error(), "certs: ") {
			t.Errorf("Leaf(%+v) error = %v", spec, err)
		}
	}
	if err := os.WriteFile(s.Dir()+"/ca/ca-key.pem", []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.Dir(), nil); err == nil || !strings.Contains(err.Error(), "no PEM block") {
		t.Errorf("Open with a corrupt CA key: %v", err)
	}
}
