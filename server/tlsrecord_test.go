package server

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/mxlab/mxlab/tlsalert"
)

func TestRecordScanner(t *testing.T) {
	tests := []struct {
		name   string
		stream string // hex
		want   []TLSRecord
		notTLS bool
	}{
		// gnutls-serv's answer to an underscore SNI (README).
		{"alert-47", "1503030002 022f", []TLSRecord{{Type: "alert", TypeCode: 21, Version: "0x0303", Length: 2,
			Alert: &tlsalert.JSON{Level: "fatal", Code: 47, Name: "illegal_parameter"}}}, false},
		{"client-hello", "1603010004 01000000", []TLSRecord{{Type: "handshake", TypeCode: 22, Version: "0x0301", Length: 4, Handshake: "client_hello"}}, false},
		// After change_cipher_spec, a TLS 1.2 Finished is ciphertext.
		{"ccs-then-finished", "1403030001 01 1603030002 aabb", []TLSRecord{
			{Type: "change_cipher_spec", TypeCode: 20, Version: "0x0303", Length: 1},
			{Type: "handshake", TypeCode: 22, Version: "0x0303", Length: 2, Handshake: "encrypted"}}, false},
		{"application-data", "1703030003 010203", []TLSRecord{{Type: "application_data", TypeCode: 23, Version: "0x0303", Length: 3}}, false},
		{"plaintext-after-starttls", "45484c4f20", nil, true},
		{"too-long", "1603034801", nil, true},
		{"incomplete", "16030300ff 0102", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := mustHex(t, tt.stream)
			// Byte by byte or all at once, the records are the same.
			for _, step := range []int{1, len(stream)} {
				var s recordScanner
				var got []TLSRecord
				var notTLS bool
				for i := 0; i < len(stream); i += step {
					recs, bad := s.feed(stream[i:min(i+step, len(stream))])
					got = append(got, describeAll(recs)...)
					notTLS = notTLS || bad != ""
				}
				if !reflect.DeepEqual(got, tt.want) || notTLS != tt.notTLS {
					t.Errorf("step %d: %+v (not TLS: %v), want %+v (%v)", step, got, notTLS, tt.want, tt.notTLS)
				}
			}
		})
	}
}

// describeAll describes records as the transcript shows them.
func describeAll(recs []recordHeader) []TLSRecord {
	var out []TLSRecord
	for _, h := range recs {
		out = append(out, h.describe())
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	var clean []byte
	for _, c := range []byte(s) {
		if c != ' ' {
			clean = append(clean, c)
		}
	}
	b, err := hex.DecodeString(string(clean))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzRecordScanner: bytes from the client, split anywhere, give the
// same records as in one piece, and never a panic.
func FuzzRecordScanner(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte, split uint) {
		var whole recordScanner
		recs, wantBad := whole.feed(stream)
		want := describeAll(recs)
		var parts recordScanner
		at := int(split % uint(len(stream)+1))
		recs, bad1 := parts.feed(stream[:at])
		got := describeAll(recs)
		recs, bad2 := parts.feed(stream[at:])
		got = append(got, describeAll(recs)...)
		if !reflect.DeepEqual(got, want) || (bad1 != "" || bad2 != "") != (wantBad != "") {
			t.Fatalf("split at %d: %+v, whole: %+v", at, got, want)
		}
	})
}
