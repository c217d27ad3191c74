package server

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// TestParseRealClientHellos parses ClientHellos captured from real
// clients (openssl s_client 3.0, gnutls-cli 3.7, Go 1.26).
func TestParseRealClientHellos(t *testing.T) {
	tests := []struct {
		file         string
		maxVersion   uint16
		alertVersion uint16
		tls13Only    bool
		anonymous    bool
	}{
		{"openssl-default", 0x0304, 0x0303, false, false},
		{"openssl-tls1_2", 0x0303, 0x0303, false, false},
		{"openssl-tls1_3", 0x0304, 0x0303, true, false},
		{"openssl-tls1", 0x0301, 0x0301, false, false},
		{"openssl-adh-tls1_2", 0x0303, 0x0303, false, true},
		{"gnutls-cli", 0x0304, 0x0303, false, false},
		{"go", 0x0304, 0x0303, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, body, err := readClientHello(bytes.NewReader(readHello(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != len(readHello(t, tt.file)) {
				t.Errorf("read %d bytes of a %d-byte record", len(raw), len(readHello(t, tt.file)))
			}
			h, err := parseClientHello(body)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.MaxVersion(); got != tt.maxVersion {
				t.Errorf("MaxVersion %04x, want %04x", got, tt.maxVersion)
			}
			if got := h.AlertVersion(); got != tt.alertVersion {
				t.Errorf("AlertVersion %04x, want %04x", got, tt.alertVersion)
			}
			if h.OnlyTLS13() != tt.tls13Only || h.AnonymousOffered != tt.anonymous {
				t.Errorf("OnlyTLS13 %v anonymous %v", h.OnlyTLS13(), h.AnonymousOffered)
			}
			if len(h.CipherSuites) == 0 || len(h.Extensions) == 0 {
				t.Errorf("nothing parsed: %+v", h)
			}
		})
	}
}

// helloWithSNI builds a ClientHello body whose server_name extension has
// the given raw contents.
func helloWithSNI(ext []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint16(0x0303)
	b.AddBytes(make([]byte, 32))
	b.AddUint8(0)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x1301); b.AddUint16(0xc02f) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(extServerName)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ext) })
	})
	return b.BytesOrPanic()
}

func sniList(entries ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, e := range entries {
			b.AddBytes(e)
		}
	})
	return b.BytesOrPanic()
}

func entry(typ byte, name string) []byte {
	return append([]byte{typ, byte(len(name) >> 8), byte(len(name))}, name...)
}

// TestServerNameLikeGnuTLS follows the measured GnuTLS 3.7.9 behaviour
// (lib/ext/server_name.c).
func TestServerNameLikeGnuTLS(t *testing.T) {
	tests := []struct {
		name      string
		ext       []byte
		sni       string
		hasSNI    bool
		malformed bool
		refused   bool // by the gnutls-disallowed-sni rule
	}{
		{"underscore", sniList(entry(0, "_dc-mx.7c74f8d3197f.example.test")), "_dc-mx.7c74f8d3197f.example.test", true, false, true},
		{"plain", sniList(entry(0, "mx.example.test")), "mx.example.test", true, false, false},
		{"trailing dot", sniList(entry(0, "mx.example.test.")), "mx.example.test.", true, false, false},
		{"upper case", sniList(entry(0, "MX.EXAMPLE.TEST")), "MX.EXAMPLE.TEST", true, false, false},
		{"ipv4 literal", sniList(entry(0, "127.0.0.1")), "127.0.0.1", true, false, false},
		{"ipv6 literal", sniList(entry(0, "::1")), "::1", true, false, true},
		{"space", sniList(entry(0, "mx example.test")), "mx example.test", true, false, true},
		{"star", sniList(entry(0, "*.example.test")), "*.example.test", true, false, true},
		{"utf-8", sniList(entry(0, "mä.test")), "mä.test", true, false, true},
		{"nul", sniList(entry(0, "mx\x00e.t")), "mx\x00e.t", true, false, true},
		{"type 1 skipped", sniList(entry(1, "_x.example.test")), "", false, false, false},
		{"type 1 then type 0", sniList(entry(1, "_x.example.test"), entry(0, "ab.cd")), "ab.cd", true, false, false},
		{"zero-length name", sniList(entry(0, "")), "", false, true, false},
		{"empty extension", nil, "", false, true, false},
		{"empty list", []byte{0, 0}, "", false, true, false},
		{"list too long", []byte{0, 9, 0, 0, 1, 'a'}, "", false, true, false},
	}
	disallowed := rejection{when: "gnutls-disallowed-sni"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseClientHello(helloWithSNI(tt.ext))
			if err != nil {
				t.Fatal(err)
			}
			sni, ok := h.ServerName()
			if sni != tt.sni || ok != tt.hasSNI || h.SNIMalformed != tt.malformed {
				t.Errorf("sni %q %v malformed %v, want %q %v %v", sni, ok, h.SNIMalformed, tt.sni, tt.hasSNI, tt.malformed)
			}
			if got := disallowed.matches(h); got != tt.refused {
				t.Errorf("refused %v, want %v", got, tt.refused)
			}
		})
	}
}

func TestReadClientHelloErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string // hex
		want error
	}{
		{"plaintext", hex.EncodeToString([]byte("EHLO again\r\n")), ErrNotHandshake},
		{"truncated", "1603010100", nil},
		{"zero length", "1603010000", nil},
		{"not a ClientHello", "160301000402000000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tt.in)
			_, _, err := readClientHello(bytes.NewReader(b))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzParseClientHello feeds arbitrary records to the reader and parser
// that face untrusted clients after STARTTLS.
func FuzzParseClientHello(f *testing.F) {
	for _, name := range []string{"openssl-default", "openssl-tls1", "openssl-tls1_3", "openssl-adh-tls1_2", "gnutls-cli", "go"} {
		f.Add(readHello(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, body, err := readClientHello(bytes.NewReader(data))
		if err != nil {
			return
		}
		h, err := parseClientHello(body)
		if err != nil {
			return
		}
		_ = h.AlertVersion()
		_ = h.OnlyTLS13()
		_, _ = h.FirstAnonymousSuite()
		if v := h.AlertVersion(); v < 0x0301 || v > 0x0303 {
			t.Errorf("AlertVersion %04x out of range", v)
		}
	})
}

func TestCounts(t *testing.T) {
	c := newCounts()
	for _, x := range []struct {
		verb string
		ok   bool
	}{{"EHLO", true}, {"STARTTLS", true}, {"QUIT", true}} {
		c.add(x.verb, x.ok)
	}
	// The line of the tlsa-mismatch incident.
	if got := c.String(); got != "ehlo=1 starttls=1 quit=1 commands=3" {
		t.Errorf("counts %q", got)
	}
	c.add("XYZZY", false)
	if got := c.String(); got != "ehlo=1 starttls=1 quit=1 unknown=0/1 commands=3/4" {
		t.Errorf("counts %q", got)
	}
}
