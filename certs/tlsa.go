package certs

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// TLSA certificate usages, selectors and matching types (RFC 6698 §2.1,
// RFC 7218 acronyms). SMTP uses only DANE-TA(2) and DANE-EE(3): RFC 7672
// §3.1.3 makes PKIX-TA(0) and PKIX-EE(1) unusable for MTAs.
const (
	UsagePKIXTA = 0
	UsagePKIXEE = 1
	UsageDANETA = 2
	UsageDANEEE = 3

	SelectorCert = 0
	SelectorSPKI = 1

	MatchFull   = 0
	MatchSHA256 = 1
	MatchSHA512 = 2
)

// TLSA is one TLSA record's RDATA.
type TLSA struct {
	Usage, Selector, Matching uint8
	// Data is the certificate association data, lowercase hex.
	Data string
}

// String renders the RDATA as in a zone file: "3 1 1 ab12…".
func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.Matching, t.Data)
}

// AssociationData computes what a TLSA record with this selector and
// matching type holds for cert (RFC 6698 §2.1.2, §2.1.3).
func AssociationData(cert *x509.Certificate, selector, matching uint8) (string, error) {
	var data []byte
	switch selector {
	case SelectorCert:
		data = cert.Raw
	case SelectorSPKI:
		data = cert.RawSubjectPublicKeyInfo
	default:
		return "", fmt.Errorf("certs: TLSA selector %d: want 0 (full certificate) or 1 (SubjectPublicKeyInfo)", selector)
	}
	switch matching {
	case MatchFull:
	case MatchSHA256:
		sum := sha256.Sum256(data)
		data = sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(data)
		data = sum[:]
	default:
		return "", fmt.Errorf("certs: TLSA matching type %d: want 0 (full), 1 (SHA-256) or 2 (SHA-512)", matching)
	}
	return hex.EncodeToString(data), nil
}

// NewTLSA computes the record of the given parameters for cert.
func NewTLSA(cert *x509.Certificate, usage, selector, matching uint8) (TLSA, error) {
	if usage > UsageDANEEE {
		return TLSA{}, fmt.Errorf("certs: TLSA usage %d: want 0-3 (2 or 3 for SMTP)", usage)
	}
	d, err := AssociationData(cert, selector, matching)
	if err != nil {
		return TLSA{}, err
	}
	return TLSA{Usage: usage, Selector: selector, Matching: matching, Data: d}, nil
}

// ChainTLSA computes the records a server with this chain could publish:
// DANE-EE (usage 3) for the leaf, DANE-TA (usage 2) for every other
// certificate (the issuers), each with selectors 0 and 1 and matching
// types 0, 1 and 2. A single self-issued certificate gets both usages.
func ChainTLSA(chain []*x509.Certificate) ([]TLSA, error) {
	var out []TLSA
	add := func(cert *x509.Certificate, usage uint8) error {
		for _, sel := range []uint8{SelectorCert, SelectorSPKI} {
			for _, m := range []uint8{MatchFull, MatchSHA256, MatchSHA512} {
				t, err := NewTLSA(cert, usage, sel, m)
				if err != nil {
					return err
				}
				out = append(out, t)
			}
		}
		return nil
	}
	for i, c := range chain {
		usages := []uint8{UsageDANETA}
		if i == 0 {
			usages = []uint8{UsageDANEEE}
			if len(chain) == 1 && c.IsCA {
				usages = append(usages, UsageDANETA)
			}
		}
		for _, u := range usages {
			if err := add(c, u); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
