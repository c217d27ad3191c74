package profiles

import "testing"

func TestTextProvenance(t *testing.T) {
	p := &Profile{Evidence: map[string]string{
		"delivered":       "measured: a run",
		"on.tls-alert":    "source: Postfix smtp_proto.c",
		"on.timeout":      "public report: https://example.org/x",
		"on.dns-nxdomain": "  ",
	}}
	for key, want := range map[string]Provenance{
		"delivered": Measured, "on.tls-alert": Documented, "on.timeout": Documented,
		"on.dns-nxdomain": Reconstructed, "on.rejected": Reconstructed,
	} {
		if got := p.TextProvenance(key); got != want {
			t.Errorf("TextProvenance(%s) = %s, want %s", key, got, want)
		}
	}
}
