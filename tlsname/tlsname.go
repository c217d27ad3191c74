// Package tlsname gives the IANA names of TLS cipher suites and groups, for
// records and reports that show names beside the codes.
package tlsname

import (
	"crypto/tls"
	"fmt"

	"github.com/mxlab/mxlab/anontls"
)

// The names records give beside the hex codes (issue 15: people read
// names; the codes stay for tools). IANA's names throughout: the TLS
// Cipher Suites and Supported Groups registries.

// Suite is a cipher suite's IANA name, "GREASE" for RFC 8701
// values, or its code when neither Go nor mxlab knows it.
func Suite(id uint16) string {
	switch {
	case id&0x0f0f == 0x0a0a:
		return "GREASE"
	case id == 0x00ff:
		return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" // RFC 5746 §3.3
	case id == 0x5600:
		return "TLS_FALLBACK_SCSV" // RFC 7507
	case anontls.Is(id):
		return anontls.Name(id)
	}
	name := tls.CipherSuiteName(id)
	if name == fmt.Sprintf("0x%04X", id) {
		return fmt.Sprintf("0x%04x", id)
	}
	return name
}

// registry are the Supported Groups registry's names.
var registry = map[uint16]string{
	0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1",
	0x001d: "x25519", 0x001e: "x448",
	0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096", 0x0103: "ffdhe6144", 0x0104: "ffdhe8192",
	0x11ec: "X25519MLKEM768", 0x11eb: "SecP256r1MLKEM768", 0x11ed: "SecP384r1MLKEM1024",
	0x6399: "X25519Kyber768Draft00",
}

// GroupID is the code of a group's IANA name; ok is false for a name
// the registry above does not hold.
func GroupID(name string) (id uint16, ok bool) {
	for id, n := range registry {
		if n == name {
			return id, true
		}
	}
	return 0, false
}

// Group is a group's IANA name, "GREASE", or its code.
func Group(id uint16) string {
	if id&0x0f0f == 0x0a0a {
		return "GREASE"
	}
	if n, ok := registry[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", id)
}

// Names maps codes to names with name (Suite or Group), in order.
func Names(ids []uint16, name func(uint16) string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = name(id)
	}
	return out
}
