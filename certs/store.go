// Package certs keeps the lab's PKI: a CA, one leaf per scenario and the
// broken variants scenarios need, persisted under a directory so that users
// can trust the CA once and TLSA records stay stable across restarts.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KeyType is the algorithm of a generated key.
type KeyType string

// Key types the store generates.
const (
	RSA2048   KeyType = "rsa-2048"
	ECDSAP256 KeyType = "ecdsa-p256"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 397 * 24 * time.Hour // the CA/B Forum's maximum
	// renewBefore re-issues a leaf that would expire this soon, so a lab
	// started now does not serve a certificate that expires mid-run.
	renewBefore = 7 * 24 * time.Hour
)

// Store is a lab PKI rooted in a directory.
type Store struct {
	dir    string
	now    func() time.Time
	ca     *x509.Certificate
	caKey  crypto.Signer
	caPath string
}

// Open loads the CA under dir, creating the directory and the CA on first
// use. now supplies the time certificates are issued at (nil: time.Now).
func Open(dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(dir, "ca"), 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	s := &Store{dir: dir, now: now, caPath: filepath.Join(dir, "ca", "ca.pem")}
	key, err := s.key(filepath.Join(dir, "ca", "ca-key.pem"), ECDSAP256)
	if err != nil {
		return nil, err
	}
	s.caKey = key
	if cert, err := readCert(s.caPath); err == nil && samePublicKey(cert.PublicKey, key.Public()) && s.now().Before(cert.NotAfter) {
		s.ca = cert
		return s, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now = s.now
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mxlab test CA", Organization: []string{"mxlab"}},
		NotBefore:             now().Add(-time.Hour),
		NotAfter:              now().Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: creating the CA: %w", err)
	}
	if err := writePEM(s.caPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	s.ca, _ = x509.ParseCertificate(der)
	return s, nil
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// CA returns the lab CA certificate.
func (s *Store) CA() *x509.Certificate { return s.ca }

// CAPath returns the path of the CA certificate's PEM file.
func (s *Store) CAPath() string { return s.caPath }

// CAPool returns a pool holding only the lab CA.
func (s *Store) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca)
	return p
}

// LeafSpec describes a certificate a scenario needs.
type LeafSpec struct {
	// Name identifies the leaf in the store (a scenario name, or a name
	// such as "tlsa-mismatch.previous" for a variant).
	Name string
	// DNSNames are the subjectAltNames; the first is also the CN.
	DNSNames []string
	// IPs are IP subjectAltNames.
	IPs []net.IP
	// SelfSigned makes the leaf sign itself instead of the lab CA.
	SelfSigned bool
	// Key is the key algorithm (default RSA2048).
	Key KeyType
}

// Leaf is an issued certificate with its key and files.
type Leaf struct {
	// Cert is the parsed leaf.
	Cert *x509.Certificate
	// TLS is the certificate ready for crypto/tls (leaf only: MTAs send
	// the leaf and intermediates, never the root).
	TLS tls.Certificate
	// CertPath and KeyPath are the PEM files.
	CertPath, KeyPath string
}

// Leaf returns the leaf named by spec, reusing its key and certificate
// when they still fit the spec, issuing a new certificate for the same key
// when they do not, and creating the key only the first time.
func (s *Store) Leaf(spec LeafSpec) (*Leaf, error) {
	if spec.Name == "" || strings.ContainsAny(spec.Name, `/\`) || strings.HasPrefix(spec.Name, ".") {
		return nil, fmt.Errorf("certs: leaf name %q is not a plain file name", spec.Name)
	}
	if len(spec.DNSNames) == 0 && len(spec.IPs) == 0 {
		return nil, fmt.Errorf("certs: leaf %s: no names", spec.Name)
	}
	if spec.Key == "" {
		spec.Key = RSA2048
	}
	dir := filepath.Join(s.dir, "leaves", spec.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	l := &Leaf{CertPath: filepath.Join(dir, "cert.pem"), KeyPath: filepath.Join(dir, "key.pem")}
	key, err := s.key(l.KeyPath, spec.Key)
	if err != nil {
		return nil, err
	}
	cert, err := readCert(l.CertPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil || !s.fits(cert, key, spec) {
		if cert, err = s.issue(l.CertPath, key, spec); err != nil {
			return nil, err
		}
	}
	l.Cert = cert
	l.TLS = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return l, nil
}

// fits reports whether an existing certificate can be served for spec.
func (s *Store) fits(cert *x509.Certificate, key crypto.Signer, spec LeafSpec) bool {
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return false
	}
	if !slices.Equal(cert.DNSNames, spec.DNSNames) || len(cert.IPAddresses) != len(spec.IPs) {
		return false
	}
	for i, ip := range spec.IPs {
		if !cert.IPAddresses[i].Equal(ip) {
			return false
		}
	}
	now := s.now()
	if now.Before(cert.NotBefore) || now.Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	if spec.SelfSigned {
		return cert.CheckSignatureFrom(cert) == nil && bytes.Equal(cert.RawIssuer, cert.RawSubject)
	}
	return cert.CheckSignatureFrom(s.ca) == nil
}

func (s *Store) issue(path string, key crypto.Signer, spec LeafSpec) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	cn := ""
	if len(spec.DNSNames) > 0 {
		cn = spec.DNSNames[0]
	} else {
		cn = spec.IPs[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    s.now().Add(-time.Hour),
		NotAfter:     s.now().Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		// RSA key exchange (TLS 1.0-1.2 non-ECDHE suites) needs it.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	parent, signer := s.ca, s.caKey
	if spec.SelfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certs: issuing %s: %w", spec.Name, err)
	}
	if err := writePEM(path, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// key loads the private key at path, or creates one of type kt there.
func (s *Store) key(path string, kt KeyType) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("certs: %s: no PEM block", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: %s: %w", path, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("certs: %s: %T is not a signing key", path, k)
		}
		return signer, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("certs: %w", err)
	}
	var signer crypto.Signer
	switch kt {
	case RSA2048:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("certs: unknown key type %q (want %s or %s)", kt, RSA2048, ECDSAP256)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: generating %s key: %w", kt, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if err := writePEM(path, "PRIVATE KEY", der, 0o600); err != nil {
		return nil, err
	}
	return signer, nil
}

// LoadFiles loads a certificate chain and key from PEM files (a
// scenario's certificate: file).
func LoadFiles(certFile, keyFile string) (*Leaf, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %s, %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("certs: %s: %w", certFile, err)
	}
	c.Leaf = leaf
	return &Leaf{Cert: leaf, TLS: c, CertPath: certFile, KeyPath: keyFile}, nil
}

// ReadCerts parses every CERTIFICATE block of a PEM file, in order.
func ReadCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: %s: certificate %d: %w", path, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("certs: %s: no PEM CERTIFICATE block", path)
	}
	return out, nil
}

func readCert(path string) (*x509.Certificate, error) {
	certs, err := ReadCerts(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// writePEM writes atomically (temp file, then rename) so that a crash or
// a second lab on the same directory never leaves half a file.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("certs: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("certs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certs: serial: %w", err)
	}
	return n, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
