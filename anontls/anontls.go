// Package anontls names the anonymous (aNULL) TLS cipher suites: the ones
// OpenSSL-1.0-era servers and Postfix's client offered, and Go's
// crypto/tls cannot negotiate, so the lab and the sender reason about them.
package anontls

import "fmt"

// anonymousSuites are the IANA DH_anon and ECDH_anon cipher suites.
var anonymousSuites = map[uint16]bool{
	0x0018: true, 0x0019: true, 0x001a: true, 0x001b: true, // DH_anon RC4/DES/3DES
	0x0034: true, 0x003a: true, 0x006c: true, 0x006d: true, // DH_anon AES CBC
	0x0046: true, 0x0089: true, 0x00bf: true, 0x00c5: true, // DH_anon Camellia
	0x009b: true,               // DH_anon SEED
	0x00a6: true, 0x00a7: true, // DH_anon AES GCM
	0xc015: true, 0xc016: true, 0xc017: true, 0xc018: true, 0xc019: true, // ECDH_anon
	0xc046: true, 0xc047: true, 0xc05a: true, 0xc05b: true, 0xc084: true, 0xc085: true, // DH_anon ARIA/Camellia GCM
}

// Is reports whether a cipher suite authenticates no one.
func Is(id uint16) bool { return anonymousSuites[id] }

// anonymousSuiteName names the anonymous suites OpenSSL 1.0 offered
// (IANA names; crypto/tls has none of them).
// Name returns a suite's IANA name, or 0x<hex> for one it does not know.
func Name(id uint16) string {
	names := map[uint16]string{
		0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
		0x001b: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
		0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
		0x003a: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
		0x006c: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
		0x006d: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
		0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
		0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
		0x009b: "TLS_DH_anon_WITH_SEED_CBC_SHA",
		0x00a6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
		0x00a7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
		0xc015: "TLS_ECDH_anon_WITH_NULL_SHA",
		0xc016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
		0xc017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
		0xc018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
		0xc019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
	}
	if n, ok := names[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", id)
}
