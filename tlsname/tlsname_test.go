package tlsname

import "testing"

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		id           uint16
		suite, group string
	}{
		{0x1301, "TLS_AES_128_GCM_SHA256", "0x1301"},
		{0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "0xc02f"},
		{0x00a7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", "0x00a7"},
		{0x001d, "0x001d", "x25519"},
		{0x0017, "0x0017", "secp256r1"},
		{0x11ec, "0x11ec", "X25519MLKEM768"},
		{0x3a3a, "GREASE", "GREASE"},
		{0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "0x00ff"},
	} {
		if got := Suite(tc.id); got != tc.suite {
			t.Errorf("Suite(%#04x) = %s, want %s", tc.id, got, tc.suite)
		}
		if got := Group(tc.id); got != tc.group {
			t.Errorf("Group(%#04x) = %s, want %s", tc.id, got, tc.group)
		}
	}
	if got := Names([]uint16{0x001d, 0x0017}, Group); len(got) != 2 || got[0] != "x25519" || got[1] != "secp256r1" {
		t.Errorf("Names = %v", got)
	}
}
