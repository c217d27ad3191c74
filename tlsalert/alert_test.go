package tlsalert

import (
	"bytes"
	"testing"
)

func TestRecord(t *testing.T) {
	tests := []struct {
		name    string
		alert   Alert
		version uint16
		want    []byte
	}{
		// gnutls-serv's answer to an underscore SNI (docs/real-peers.md §1a, measured).
		{"gnutls-sni", Alert{Fatal, IllegalParameter}, 0x0303, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x2f}},
		// openssl s_server -nocert to a modern ClientHello.
		{"openssl-nocert", Alert{Fatal, HandshakeFailure}, 0x0303, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}},
		{"tls10-client", Alert{Fatal, IllegalParameter}, 0x0301, []byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x2f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.alert.Record(tt.version); !bytes.Equal(got, tt.want) {
				t.Errorf("Record(%04x) = % x, want % x", tt.version, got, tt.want)
			}
		})
	}
}

func TestParseDescription(t *testing.T) {
	good := map[string]Description{
		"illegal_parameter": IllegalParameter,
		"HANDSHAKE_FAILURE": HandshakeFailure,
		"47":                IllegalParameter,
		"255":               Description(255), // unknown but a valid byte
	}
	for in, want := range good {
		if got, err := ParseDescription(in); err != nil || got != want {
			t.Errorf("ParseDescription(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "nope", "256", "-1", "4 7"} {
		if _, err := ParseDescription(in); err == nil {
			t.Errorf("ParseDescription(%q) succeeded, want error", in)
		}
	}
}

func TestString(t *testing.T) {
	if got := (Alert{Fatal, IllegalParameter}).String(); got != "fatal alert 47 (illegal_parameter)" {
		t.Errorf("String() = %q", got)
	}
	if got := Description(200).String(); got != "alert(200)" {
		t.Errorf("unknown String() = %q", got)
	}
}

func TestFromGoError(t *testing.T) {
	for _, tt := range []struct {
		err  string
		want Description
		ok   bool
	}{
		{"remote error: tls: illegal parameter", IllegalParameter, true},
		{"tls: first record does not look like a TLS handshake", 0, false},
		{"remote error: tls: protocol version not supported", ProtocolVersion, true},
		{"remote error: tls: something new", 0, false},
	} {
		a, ok := FromGoError(errorString(tt.err))
		if ok != tt.ok || a.Description != tt.want {
			t.Errorf("%q: %v %v", tt.err, a, ok)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
