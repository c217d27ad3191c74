package certs

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const caValidity = 10 * 365 * 24 * time.Hour

// The authorities of a store, each in its own directory under it, as
// ca.pem and ca-key.pem.
var (
	// labCA is the root users trust. Its pathLenConstraint is 1 so that
	// it may sign the lab intermediate (RFC 5280 §4.2.1.9: the number of
	// non-self-issued intermediates that may follow it).
	labCA = authoritySpec{dir: "ca", subject: pkix.Name{CommonName: "mxlab test CA", Organization: []string{"mxlab"}}, maxPathLen: 1}
	// labIntermediate issues IssuerIntermediate leaves.
	labIntermediate = authoritySpec{dir: "intermediate", subject: pkix.Name{CommonName: "mxlab test intermediate", Organization: []string{"mxlab"}}}
	// otherIntermediate is what ChainWrongIntermediate serves: a valid
	// intermediate of the lab CA, but not the leaf's issuer (another name
	// and another key, so neither a name nor a key match finds it).
	otherIntermediate = authoritySpec{dir: "intermediate-other", subject: pkix.Name{CommonName: "mxlab test intermediate (other)", Organization: []string{"mxlab"}}}
	// untrustedCA is a second root that no client is told to trust.
	untrustedCA = authoritySpec{dir: "untrusted-ca", subject: pkix.Name{CommonName: "mxlab untrusted CA", Organization: []string{"mxlab"}}}
)

// authoritySpec says what a stored CA certificate must be.
type authoritySpec struct {
	// dir is the directory under the store.
	dir     string
	subject pkix.Name
	// maxPathLen is the pathLenConstraint; the zero value means 0: only
	// leaves below.
	maxPathLen int
}

// authority is a CA certificate with its key and file.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	path string
}

// authority loads the CA certificate as under the store, signed by parent
// (nil: a self-signed root). The key is created once and kept; the
// certificate is re-issued for the same key when it no longer holds, so
// that leaves it issued keep verifying wherever the key is trusted.
func (s *Store) authority(as authoritySpec, parent *authority) (*authority, error) {
	dir := filepath.Join(s.dir, as.dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	a := &authority{path: filepath.Join(dir, "ca.pem")}
	key, err := s.key(filepath.Join(dir, "ca-key.pem"), ECDSAP256)
	if err != nil {
		return nil, err
	}
	a.key = key
	cert, err := readCert(a.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	now := s.now()
	var tmpl *x509.Certificate
	switch {
	case err != nil || !as.holds(cert, key, parent, now):
		tmpl = &x509.Certificate{
			Subject:   as.subject,
			NotBefore: now.Add(-time.Hour),
			NotAfter:  now.Add(caValidity),
		}
		if parent != nil && parent.cert.NotAfter.Before(tmpl.NotAfter) {
			// Not required by RFC 5280, but a CA should not outlive
			// its issuer.
			tmpl.NotAfter = parent.cert.NotAfter
		}
	case cert.MaxPathLen != as.maxPathLen:
		// A lab CA from before intermediates existed has pathlen 0, under
		// which Go ("x509: too many intermediates for path length
		// constraint") and OpenSSL ("error 25 … path length constraint
		// exceeded") refuse any intermediate. Re-issue it with the same
		// key, subject bytes, key identifier and validity: what it issued
		// still verifies against the new file, and users who trust the
		// file on disk get the new constraint.
		tmpl = &x509.Certificate{
			RawSubject:   cert.RawSubject,
			SubjectKeyId: cert.SubjectKeyId,
			NotBefore:    cert.NotBefore,
			NotAfter:     cert.NotAfter,
		}
	default:
		a.cert = cert
		return a, nil
	}
	// A fresh serial even for the same content: RFC 5280 §4.1.2.2 makes
	// (issuer, serial) unique, and NSS refuses a reused pair
	// (SEC_ERROR_REUSED_ISSUER_AND_SERIAL).
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = true
	tmpl.MaxPathLen = as.maxPathLen
	tmpl.MaxPathLenZero = as.maxPathLen == 0
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("certs: creating %s: %w", as.subject.CommonName, err)
	}
	if err := writePEM(a.path, "CERTIFICATE", 0o644, der); err != nil {
		return nil, err
	}
	if a.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	return a, nil
}

// holds reports whether a stored CA certificate can be kept, perhaps with
// a new path length: same key and name, signed by parent, valid now.
func (as authoritySpec) holds(cert *x509.Certificate, key crypto.Signer, parent *authority, now time.Time) bool {
	if !samePublicKey(cert.PublicKey, key.Public()) || !cert.BasicConstraintsValid || !cert.IsCA {
		return false
	}
	if cert.Subject.CommonName != as.subject.CommonName {
		return false
	}
	if now.Before(cert.NotBefore) || !now.Before(cert.NotAfter) {
		return false
	}
	if parent == nil {
		return selfSigned(cert)
	}
	return signedBy(cert, parent.cert)
}

// signedBy reports whether parent issued cert: by name (RFC 5280 §6.1.3
// (a)(4)) and by signature.
func signedBy(cert, parent *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, parent.RawSubject) && cert.CheckSignatureFrom(parent) == nil
}

// selfSigned reports whether cert names and signs itself. Not
// CheckSignatureFrom(cert): that refuses a parent without the cA bit
// (RFC 5280 §4.2.1.9), which a self-signed leaf is.
func selfSigned(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, cert.RawSubject) &&
		cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}
