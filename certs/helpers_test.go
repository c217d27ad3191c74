package certs

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

type x509Cert = x509.Certificate

func hexOfBase64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
