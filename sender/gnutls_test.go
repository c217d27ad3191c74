package sender

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// TestGnuTLSSession: Exim's X= for sessions measured against real Exim
// 4.96 with GnuTLS 3.7.9 (TestFidelityExim) and derived ones.
func TestGnuTLSSession(t *testing.T) {
	rsaCert := &x509.Certificate{PublicKey: &rsa.PublicKey{}}
	p256 := &x509.Certificate{PublicKey: &ecdsa.PublicKey{Curve: elliptic.P256()}}
	exim := []string{"secp256r1", "secp384r1", "secp521r1", "x25519"}
	cases := []struct {
		name   string
		st     tls.ConnectionState
		groups []string
		want   string
	}{
		{"measured: TLS 1.3, RSA key (baseline)", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519,
			CipherSuite: tls.TLS_AES_128_GCM_SHA256, PeerCertificates: []*x509.Certificate{rsaCert}}, exim,
			"TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_128_GCM:128"},
		{"measured: TLS 1.1 takes the client's first group (tls10-only)", tls.ConnectionState{Version: tls.VersionTLS11, CurveID: tls.X25519,
			CipherSuite: tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, PeerCertificates: []*x509.Certificate{rsaCert}}, exim,
			"TLS1.1:ECDHE_SECP256R1__AES_128_CBC__SHA1:128"},
		{"TLS 1.3, ECDSA P-256", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519,
			CipherSuite: tls.TLS_AES_256_GCM_SHA384, PeerCertificates: []*x509.Certificate{p256}}, exim,
			"TLS1.3:ECDHE_X25519__ECDSA_SECP256R1_SHA256__AES_256_GCM:256"},
		{"TLS 1.2, ECDSA, AEAD", tls.ConnectionState{Version: tls.VersionTLS12, CurveID: tls.X25519,
			CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, PeerCertificates: []*x509.Certificate{p256}}, exim,
			"TLS1.2:ECDHE_SECP256R1__ECDSA_SHA256__AES_128_GCM:128"},
		{"TLS 1.2, RSA key exchange: no signature", tls.ConnectionState{Version: tls.VersionTLS12,
			CipherSuite: tls.TLS_RSA_WITH_AES_128_CBC_SHA, PeerCertificates: []*x509.Certificate{rsaCert}}, exim,
			"TLS1.2:RSA__AES_128_CBC__SHA1:128"},
		{"no profile groups: the group negotiated", tls.ConnectionState{Version: tls.VersionTLS12, CurveID: tls.CurveP384,
			CipherSuite: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, PeerCertificates: []*x509.Certificate{rsaCert}}, nil,
			"TLS1.2:ECDHE_SECP384R1__RSA_PSS_RSAE_SHA256__CHACHA20_POLY1305:256"},
		{"a hybrid group GnuTLS 3.7 cannot name", tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768,
			CipherSuite: tls.TLS_AES_128_GCM_SHA256, PeerCertificates: []*x509.Certificate{rsaCert}}, nil, ""},
	}
	for _, tc := range cases {
		got, ok := gnutlsSession(tc.st, tc.groups)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
