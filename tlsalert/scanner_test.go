package tlsalert

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestRecordScanner(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string // hex
		want   int      // alert description, -1 for none
	}{
		{"plaintext alert", []string{"15030300020230"}, 48},
		{"split everywhere", []string{"15", "0303", "00", "0202", "30"}, 48},
		{"after a handshake record", []string{"1603030004", "14000000", "15030300020228"}, 40},
		{"encrypted TLS 1.2 alert", []string{"150303001a" + strings.Repeat("00", 26)}, -1},
		{"TLS 1.3 application data", []string{"1703030013" + strings.Repeat("00", 19)}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Scanner
			got := -1
			for _, c := range tt.chunks {
				b, _ := hex.DecodeString(c)
				if a := s.Feed(b); a != nil && got == -1 {
					got = int(a.Description)
				}
			}
			if got != tt.want {
				t.Errorf("alert %d, want %d", got, tt.want)
			}
		})
	}
}
