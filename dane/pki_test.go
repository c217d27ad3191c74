package dane

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
)

// testNames are the reference identifiers of most cases: the MX host name
// (the TLSA base domain) and the next-hop domain (RFC 7672 §3.2.2).
var testNames = []string{"mx.example.test", "example.test"}

// storePKI is the lab PKI (certs.Store) with the leaves the cases need,
// all under one lab CA unless said otherwise.
type storePKI struct {
	ca       *x509.Certificate
	leaf     *x509.Certificate // mx.example.test
	previous *x509.Certificate // mx.example.test, another key: the tlsa-mismatch scenario's old key
	nextHop  *x509.Certificate // example.test only
	other    *x509.Certificate // other.test: the wrong name
	wildcard *x509.Certificate // *.example.test
	self     *x509.Certificate // mx.example.test, self-signed
	expired  *x509.Certificate // mx.example.test, issued two years ago
	// foreignCA and foreignLeaf are another lab's CA and its mx.example.test.
	foreignCA, foreignLeaf *x509.Certificate
}

func newStorePKI(t *testing.T, now time.Time) *storePKI {
	t.Helper()
	dir := t.TempDir()
	store, err := certs.Open(dir, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(s *certs.Store, name string, selfSigned bool, dnsNames ...string) *x509.Certificate {
		t.Helper()
		l, err := s.Leaf(certs.LeafSpec{Name: name, DNSNames: dnsNames, SelfSigned: selfSigned, Key: certs.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		return l.Cert
	}
	p := &storePKI{
		ca:       store.CA(),
		leaf:     leaf(store, "baseline", false, "mx.example.test"),
		previous: leaf(store, "tlsa-mismatch.previous", false, "mx.example.test"),
		nextHop:  leaf(store, "next-hop", false, "example.test"),
		other:    leaf(store, "other", false, "other.test"),
		wildcard: leaf(store, "wildcard", false, "*.example.test"),
		self:     leaf(store, "self-signed", true, "mx.example.test"),
	}
	// The same CA with a clock two years back issues a leaf that has
	// expired by now (certs' leaves live 397 days).
	past, err := certs.Open(dir, func() time.Time { return now.AddDate(-2, 0, 0) })
	if err != nil {
		t.Fatal(err)
	}
	p.expired = leaf(past, "expired", false, "mx.example.test")
	if !now.After(p.expired.NotAfter) || p.expired.CheckSignatureFrom(p.ca) != nil {
		t.Fatalf("expired leaf: valid until %s, want an expired leaf of the same CA", p.expired.NotAfter)
	}
	foreign, err := certs.Open(t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	p.foreignCA = foreign.CA()
	p.foreignLeaf = leaf(foreign, "baseline", false, "mx.example.test")
	return p
}

// minted is a certificate made with crypto/x509, for the shapes
// certs.Store does not issue: intermediates, path length limits, CN-only
// leaves, chosen validity periods.
type minted struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// mint signs tmpl with parent's key, or with its own new key when parent
// is nil (self-signed).
func mint(t *testing.T, tmpl *x509.Certificate, parent *minted) *minted {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &minted{cert: c, key: key}
}

func caTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func leafTemplate(cn string, dnsNames []string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		DNSNames:    dnsNames,
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// mintedPKI has a root, an intermediate and their leaves.
type mintedPKI struct {
	root, inter, leaf *x509.Certificate // root → intermediate → mx.example.test
	// zeroRoot allows no intermediate below it (pathLenConstraint 0), yet
	// zeroInter sits there and issued zeroLeaf.
	zeroRoot, zeroInter, zeroLeaf *x509.Certificate
	cnOnly                        *x509.Certificate // CN=mx.example.test, no subjectAltName, under root
	notYet                        *x509.Certificate // mx.example.test, valid from tomorrow, under root
	// oldRoot expired yesterday; oldLeaf, still valid, is its.
	oldRoot, oldLeaf *x509.Certificate
	sha1Leaf         *x509.Certificate // mx.example.test, signed by root with ECDSA-SHA1
}

func newMintedPKI(t *testing.T, now time.Time) *mintedPKI {
	t.Helper()
	from, until := now.Add(-time.Hour), now.AddDate(1, 0, 0)
	root := mint(t, caTemplate("mxlab test root", from, until), nil)
	inter := mint(t, caTemplate("mxlab test intermediate", from, until), root)
	zt := caTemplate("mxlab zero-path root", from, until)
	zt.MaxPathLenZero = true
	zeroRoot := mint(t, zt, nil)
	zeroInter := mint(t, caTemplate("mxlab intermediate below a zero-path root", from, until), zeroRoot)
	oldRoot := mint(t, caTemplate("mxlab expired root", now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1)), nil)
	st := leafTemplate("mx.example.test", []string{"mx.example.test"}, from, until)
	st.SignatureAlgorithm = x509.ECDSAWithSHA1
	return &mintedPKI{
		root:      root.cert,
		inter:     inter.cert,
		leaf:      mint(t, leafTemplate("mx.example.test", []string{"mx.example.test"}, from, until), inter).cert,
		zeroRoot:  zeroRoot.cert,
		zeroInter: zeroInter.cert,
		zeroLeaf:  mint(t, leafTemplate("mx.example.test", []string{"mx.example.test"}, from, until), zeroInter).cert,
		cnOnly:    mint(t, leafTemplate("mx.example.test", nil, from, until), root).cert,
		notYet:    mint(t, leafTemplate("mx.example.test", []string{"mx.example.test"}, now.AddDate(0, 0, 1), until), root).cert,
		oldRoot:   oldRoot.cert,
		oldLeaf:   mint(t, leafTemplate("mx.example.test", []string{"mx.example.test"}, from, until), oldRoot).cert,
		sha1Leaf:  mint(t, st, root).cert,
	}
}

// tlsa computes the record of the given parameters for cert with the lab's
// TLSA code, the way the lab publishes it.
func tlsa(t *testing.T, cert *x509.Certificate, usage, selector, matching uint8) Record {
	t.Helper()
	r, err := certs.NewTLSA(cert, usage, selector, matching)
	if err != nil {
		t.Fatal(err)
	}
	data, err := hex.DecodeString(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	return Record{Usage: usage, Selector: selector, Matching: matching, Data: data}
}

func chainOf(c ...*x509.Certificate) []*x509.Certificate { return c }

func recsOf(r ...Record) []Record { return r }
