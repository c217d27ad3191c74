// Package certs keeps the lab's PKI: a CA, an intermediate, a root nobody
// trusts, one leaf per scenario and the broken variants scenarios need
// (expired, not yet valid, self-signed, served without or with the wrong
// intermediate, from the untrusted root), persisted under a directory so
// that users can trust the CA once and TLSA records stay stable across
// restarts.
package certs

import (
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

// Store is a lab PKI rooted in a directory: the lab CA (ca/), the lab
// intermediate it signed (intermediate/), a second intermediate that
// wrong-intermediate chains serve (intermediate-other/), a root nobody
// trusts (untrusted-ca/), and the leaves (leaves/<name>/).
//
// Open makes every authority up front, so that Leaf only reads them.
type Store struct {
	dir                                            string
	now                                            func() time.Time
	ca, intermediate, otherIntermediate, untrusted *authority
}

// Open loads the store under dir, creating the directory, the lab CA, the
// intermediates and the untrusted CA on first use, and re-issuing (same
// key and name) any of them that expired or, for a lab CA made before
// intermediates existed, that forbids intermediates. now supplies the
// time certificates are issued at (nil: time.Now).
func Open(dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{dir: dir, now: now}
	var err error
	if s.ca, err = s.authority(labCA, nil); err != nil {
		return nil, err
	}
	if s.intermediate, err = s.authority(labIntermediate, s.ca); err != nil {
		return nil, err
	}
	if s.otherIntermediate, err = s.authority(otherIntermediate, s.ca); err != nil {
		return nil, err
	}
	if s.untrusted, err = s.authority(untrustedCA, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// CA returns the lab CA certificate.
func (s *Store) CA() *x509.Certificate { return s.ca.cert }

// CAPath returns the path of the CA certificate's PEM file.
func (s *Store) CAPath() string { return s.ca.path }

// CAPool returns a pool holding only the lab CA.
func (s *Store) CAPool() *x509.CertPool { return pool(s.ca.cert) }

// Intermediate returns the lab intermediate CA, the issuer of
// IssuerIntermediate leaves.
func (s *Store) Intermediate() *x509.Certificate { return s.intermediate.cert }

// IntermediatePath returns the path of the lab intermediate's PEM file:
// what a client given a leaf-only chain would need (openssl verify
// -untrusted).
func (s *Store) IntermediatePath() string { return s.intermediate.path }

// UntrustedCA returns the root that issues IssuerUntrusted leaves.
func (s *Store) UntrustedCA() *x509.Certificate { return s.untrusted.cert }

// UntrustedCAPath returns the path of the untrusted root's PEM file: a
// client told to trust it accepts IssuerUntrusted leaves, which shows
// that the issuer is their only fault.
func (s *Store) UntrustedCAPath() string { return s.untrusted.path }

// UntrustedCAPool returns a pool holding only the untrusted root.
func (s *Store) UntrustedCAPool() *x509.CertPool { return pool(s.untrusted.cert) }

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
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
	// SelfSigned makes the leaf sign itself instead of the lab CA; it is
	// Issuer: IssuerSelf.
	SelfSigned bool
	// Key is the key algorithm (default RSA2048).
	Key KeyType
	// Issuer signs the leaf (default IssuerCA).
	Issuer Issuer
	// Chain is what is served after the leaf (default ChainFull).
	// ChainLeafOnly and ChainWrongIntermediate need IssuerIntermediate.
	Chain Chain
	// NotBefore and NotAfter are the validity as offsets from the time of
	// issue; zero takes the default (-1h and +397 days), and NotAfter
	// must come after NotBefore. NotBefore -400 days with NotAfter -30
	// days is a leaf that expired 30 days ago; NotBefore +30 days one
	// that is not yet valid. A leaf with the default validity is renewed
	// a week before it expires; any other is kept at its offsets, within
	// a day, however expired.
	NotBefore, NotAfter time.Duration
}

// Leaf is an issued certificate with its key and files.
type Leaf struct {
	// Cert is the parsed leaf.
	Cert *x509.Certificate
	// Chain is what is served after the leaf, in order: intermediates,
	// never the root, as MTAs send them.
	Chain []*x509.Certificate
	// TLS is the certificate ready for crypto/tls: the leaf then Chain.
	TLS tls.Certificate
	// CertPath and KeyPath are the PEM files. CertPath holds the leaf
	// then Chain, what is served (a "fullchain" file, as Postfix's
	// smtpd_tls_cert_file and LoadFiles read it).
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
	iss, ch, err := spec.signing()
	if err != nil {
		return nil, err
	}
	w, err := spec.window()
	if err != nil {
		return nil, err
	}
	p := leafPlan{spec: spec, window: w, now: s.now()}
	p.parent, p.chain = s.signer(iss, ch)
	dir := filepath.Join(s.dir, "leaves", spec.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	l := &Leaf{CertPath: filepath.Join(dir, "cert.pem"), KeyPath: filepath.Join(dir, "key.pem")}
	key, err := s.key(l.KeyPath, spec.Key)
	if err != nil {
		return nil, err
	}
	stored, err := ReadCerts(l.CertPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil && p.fits(stored, key) {
		l.Cert = stored[0]
	} else if l.Cert, err = p.issue(l.CertPath, key); err != nil {
		return nil, err
	}
	l.Chain = p.chain
	l.TLS = tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: key, Leaf: l.Cert}
	for _, c := range p.chain {
		l.TLS.Certificate = append(l.TLS.Certificate, c.Raw)
	}
	return l, nil
}

// leafPlan is a LeafSpec resolved against the store: what to issue, by
// whom, and what to serve with it.
type leafPlan struct {
	spec   LeafSpec
	window window
	// parent signs the leaf; nil: the leaf signs itself.
	parent *authority
	// chain is served after the leaf.
	chain []*x509.Certificate
	now   time.Time
}

// fits reports whether a stored certificate file (leaf then chain) can be
// served for the plan: same key, names, validity window, issuer and chain.
func (p leafPlan) fits(stored []*x509.Certificate, key crypto.Signer) bool {
	cert, spec := stored[0], p.spec
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
	if !p.window.fits(cert, p.now) {
		return false
	}
	if !slices.EqualFunc(stored[1:], p.chain, (*x509.Certificate).Equal) {
		return false
	}
	if p.parent == nil {
		return selfSigned(cert)
	}
	return signedBy(cert, p.parent.cert)
}

// issue signs a leaf for key and writes it, followed by the chain, to
// path.
func (p leafPlan) issue(path string, key crypto.Signer) (*x509.Certificate, error) {
	spec := p.spec
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
		NotBefore:    p.now.Add(p.window.notBefore),
		NotAfter:     p.now.Add(p.window.notAfter),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		// RSA key exchange (TLS 1.0-1.2 non-ECDHE suites) needs it.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	issuer, signer := tmpl, key
	if p.parent != nil {
		issuer, signer = p.parent.cert, p.parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certs: issuing %s: %w", spec.Name, err)
	}
	ders := [][]byte{der}
	for _, c := range p.chain {
		ders = append(ders, c.Raw)
	}
	if err := writePEM(path, "CERTIFICATE", 0o644, ders...); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return cert, nil
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
	if err := writePEM(path, "PRIVATE KEY", 0o600, der); err != nil {
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
	l := &Leaf{Cert: leaf, TLS: c, CertPath: certFile, KeyPath: keyFile}
	for i, der := range c.Certificate[1:] {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certs: %s: certificate %d: %w", certFile, i+2, err)
		}
		l.Chain = append(l.Chain, cert)
	}
	return l, nil
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

// writePEM writes one PEM block of type typ per DER, in order. It writes
// atomically (temp file, then rename) so that a crash or a second lab on
// the same directory never leaves half a file.
func writePEM(path, typ string, mode os.FileMode, ders ...[]byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	defer os.Remove(tmp.Name())
	for _, der := range ders {
		if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
			tmp.Close()
			return fmt.Errorf("certs: %w", err)
		}
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
