package certs

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// legacyStore is a store as Open left it before intermediates existed: a
// lab CA with pathlen 0 (created a month before knobNow), and a leaf that
// CA issued. It also returns an intermediate-issued leaf, made before the
// CA is put back to its old self.
func legacyStore(t *testing.T) (dir string, oldCA, oldLeaf *x509.Certificate, viaIntermediate *Leaf) {
	t.Helper()
	dir = t.TempDir()
	s, err := Open(dir, func() time.Time { return knobNow })
	if err != nil {
		t.Fatal(err)
	}
	if viaIntermediate, err = s.Leaf(LeafSpec{Name: "via-intermediate", DNSNames: []string{"mx.intermediate.mxlab.test"}, Issuer: IssuerIntermediate, Key: ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	serial, _ := newSerial()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mxlab test CA", Organization: []string{"mxlab"}},
		NotBefore:             knobNow.Add(-30 * day),
		NotAfter:              knobNow.Add(-30*day + caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.ca.key.Public(), s.ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if oldCA, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if err := writePEM(s.CAPath(), "CERTIFICATE", 0o644, der); err != nil {
		t.Fatal(err)
	}
	serial, _ = newSerial()
	der, err = x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mx.old.mxlab.test"},
		DNSNames:     []string{"mx.old.mxlab.test"},
		NotBefore:    knobNow.Add(-29 * day),
		NotAfter:     knobNow.Add(300 * day),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, oldCA, s.ca.key.Public(), s.ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if oldLeaf, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return dir, oldCA, oldLeaf, viaIntermediate
}

func TestOpenUpgradesPathLenZeroCA(t *testing.T) {
	dir, oldCA, oldLeaf, viaIntermediate := legacyStore(t)
	verify := func(leaf *x509.Certificate, root *x509.Certificate, chain ...*x509.Certificate) error {
		opts := x509.VerifyOptions{Roots: pool(root), Intermediates: x509.NewCertPool(), CurrentTime: knobNow}
		for _, c := range chain {
			opts.Intermediates.AddCert(c)
		}
		_, err := leaf.Verify(opts)
		return err
	}
	// Why the upgrade: under pathlen 0 no intermediate verifies.
	var invalid x509.CertificateInvalidError
	if err := verify(viaIntermediate.Cert, oldCA, viaIntermediate.Chain...); !errors.As(err, &invalid) || invalid.Reason != x509.TooManyIntermediates {
		t.Fatalf("an intermediate under the pathlen-0 CA: %v, want TooManyIntermediates", err)
	}

	s, err := Open(dir, func() time.Time { return knobNow })
	if err != nil {
		t.Fatal(err)
	}
	ca := s.CA()
	if ca.Equal(oldCA) {
		t.Fatal("the pathlen-0 CA was kept")
	}
	if ca.MaxPathLen != 1 || ca.MaxPathLenZero {
		t.Errorf("upgraded CA: MaxPathLen %d, MaxPathLenZero %v; want 1, false", ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if !samePublicKey(ca.PublicKey, oldCA.PublicKey) || string(ca.RawSubject) != string(oldCA.RawSubject) || string(ca.SubjectKeyId) != string(oldCA.SubjectKeyId) {
		t.Error("upgraded CA: key, subject or key identifier changed")
	}
	if !ca.NotBefore.Equal(oldCA.NotBefore) || !ca.NotAfter.Equal(oldCA.NotAfter) {
		t.Errorf("upgraded CA valid %s … %s, want the old %s … %s", ca.NotBefore, ca.NotAfter, oldCA.NotBefore, oldCA.NotAfter)
	}
	if ca.SerialNumber.Cmp(oldCA.SerialNumber) == 0 {
		t.Error("upgraded CA reuses the old serial (RFC 5280 §4.1.2.2)")
	}
	if onDisk, err := ReadCerts(s.CAPath()); err != nil || !onDisk[0].Equal(ca) {
		t.Errorf("%s does not hold the upgraded CA (%v)", s.CAPath(), err)
	}
	if err := verify(oldLeaf, ca); err != nil {
		t.Errorf("a leaf of the old CA does not verify against the upgraded one: %v", err)
	}
	if err := verify(viaIntermediate.Cert, ca, viaIntermediate.Chain...); err != nil {
		t.Errorf("an intermediate's leaf does not verify against the upgraded CA: %v", err)
	}
	again, err := Open(dir, func() time.Time { return knobNow.Add(day) })
	if err != nil {
		t.Fatal(err)
	}
	if !again.CA().Equal(ca) {
		t.Error("the upgraded CA was re-issued again")
	}
}

// TestPathLenZeroCAOpenSSL shows the upgrade's reason and effect with
// OpenSSL, which enforces pathlen on the trust anchor too.
func TestPathLenZeroCAOpenSSL(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	dir, oldCA, _, viaIntermediate := legacyStore(t)
	files := t.TempDir()
	leaf := writeCerts(t, files, "leaf.pem", viaIntermediate.Cert)
	chain := writeCerts(t, files, "chain.pem", viaIntermediate.Chain...)
	verify := func(ca string) realpeer.Result {
		return realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: []string{"verify", "-CAfile", ca, "-untrusted", chain, "-attime", strconv.FormatInt(knobNow.Unix(), 10), leaf}})
	}
	if r := verify(writeCerts(t, files, "old-ca.pem", oldCA)); r.Code == 0 || !hasLine(r.Stderr, "error 25 at 2 depth lookup: path length constraint exceeded") {
		t.Errorf("under the pathlen-0 CA: exit %d, %q; want error 25 at depth 2", r.Code, r.Stderr)
	}
	s, err := Open(dir, func() time.Time { return knobNow })
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(s.CAPath()); r.Code != 0 || r.Stdout != leaf+": OK\n" {
		t.Errorf("under the upgraded CA: exit %d, %q; want OK", r.Code, r.All())
	}
}

func TestAuthorities(t *testing.T) {
	s, err := Open(t.TempDir(), func() time.Time { return knobNow })
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		cert       *x509.Certificate
		cn         string
		issuer     *x509.Certificate
		maxPathLen int
	}{
		{"lab CA", s.CA(), "mxlab test CA", s.CA(), 1},
		// pathlen 0 (RFC 5280 §4.2.1.9): only leaves below it.
		{"intermediate", s.Intermediate(), "mxlab test intermediate", s.CA(), 0},
		{"other intermediate", s.otherIntermediate.cert, "mxlab test intermediate (other)", s.CA(), 0},
		{"untrusted CA", s.UntrustedCA(), "mxlab untrusted CA", s.UntrustedCA(), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cert
			if c.Subject.CommonName != tt.cn || !c.IsCA || c.MaxPathLen != tt.maxPathLen || c.MaxPathLenZero != (tt.maxPathLen == 0) {
				t.Errorf("CN %q, CA %v, MaxPathLen %d, MaxPathLenZero %v; want %q, true, %d, %v", c.Subject.CommonName, c.IsCA, c.MaxPathLen, c.MaxPathLenZero, tt.cn, tt.maxPathLen, tt.maxPathLen == 0)
			}
			if !signedBy(c, tt.issuer) {
				t.Errorf("not signed by %s", tt.issuer.Subject.CommonName)
			}
		})
	}
	keys := map[string]string{}
	for _, a := range []*authority{s.ca, s.intermediate, s.otherIntermediate, s.untrusted} {
		if other, dup := keys[string(a.cert.RawSubjectPublicKeyInfo)]; dup {
			t.Errorf("%s and %s share a key", a.cert.Subject.CommonName, other)
		}
		keys[string(a.cert.RawSubjectPublicKeyInfo)] = a.cert.Subject.CommonName
	}
	if s.IntermediatePath() == s.CAPath() || s.UntrustedCAPath() == s.CAPath() {
		t.Error("authorities share a file")
	}
	if c, err := ReadCerts(s.UntrustedCAPath()); err != nil || !c[0].Equal(s.UntrustedCA()) {
		t.Errorf("UntrustedCAPath does not hold the untrusted CA: %v", err)
	}
	if c, err := ReadCerts(s.IntermediatePath()); err != nil || !c[0].Equal(s.Intermediate()) {
		t.Errorf("IntermediatePath does not hold the intermediate: %v", err)
	}
	again, err := Open(s.Dir(), func() time.Time { return knobNow.Add(day) })
	if err != nil {
		t.Fatal(err)
	}
	if !again.Intermediate().Equal(s.Intermediate()) || !again.UntrustedCA().Equal(s.UntrustedCA()) || !again.otherIntermediate.cert.Equal(s.otherIntermediate.cert) {
		t.Error("an authority was re-issued across Open")
	}
}
