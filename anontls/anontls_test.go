package anontls

import "testing"

func TestSuites(t *testing.T) {
	for _, tt := range []struct {
		id   uint16
		anon bool
		name string
	}{
		{0x00a7, true, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},
		{0xc018, true, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
		{0xc02f, false, "0xc02f"}, // ECDHE_RSA_WITH_AES_128_GCM_SHA256: authenticated
		{0x1301, false, "0x1301"},
	} {
		if Is(tt.id) != tt.anon || Name(tt.id) != tt.name {
			t.Errorf("%04x: Is %v Name %q", tt.id, Is(tt.id), Name(tt.id))
		}
	}
}
