package dnslab_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

// TestKeyRoundTrip checks a key survives MarshalText and ParseKey and
// still signs what its DNSKEY verifies.
func TestKeyRoundTrip(t *testing.T) {
	keys, err := dnslab.GenerateKeys(origin)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []dnslab.Key{keys.KSK, keys.ZSK} {
		text, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		back, err := dnslab.ParseKey(text)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", text, err)
		}
		if back.DNSKEY.String() != k.DNSKEY.String() || !back.Private.Equal(k.Private) {
			t.Fatalf("round trip changed the key:\n%s\n%v", text, back.DNSKEY)
		}
		rr, _ := dns.NewRR("x.mxlab.test. 1 IN A 127.0.0.1")
		sig := &dns.RRSIG{Algorithm: dnslab.Algorithm, KeyTag: back.DNSKEY.KeyTag(), SignerName: origin, Inception: 1, Expiration: 1<<32 - 1}
		if err := sig.Sign(back.Private, []dns.RR{rr}); err != nil {
			t.Fatal(err)
		}
		if err := sig.Verify(k.DNSKEY, []dns.RR{rr}); err != nil {
			t.Fatalf("a signature of the parsed key does not verify with the original DNSKEY: %v", err)
		}
	}
	if keys.KSK.DNSKEY.Flags != 257 || keys.ZSK.DNSKEY.Flags != 256 {
		t.Errorf("flags %d and %d, want 257 and 256", keys.KSK.DNSKEY.Flags, keys.ZSK.DNSKEY.Flags)
	}
}

// TestParseKeyRejects checks keys that cannot sign for the lab are
// refused with ErrBadKey, and why.
func TestParseKeyRejects(t *testing.T) {
	keys, err := dnslab.GenerateKeys(origin)
	if err != nil {
		t.Fatal(err)
	}
	other, err := dnslab.GenerateKeys(origin)
	if err != nil {
		t.Fatal(err)
	}
	text := func(k dnslab.Key) string {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ksk := text(keys.KSK)
	// The public half of one key with the private half of another.
	pub, _, _ := strings.Cut(ksk, "Private-key-format")
	_, priv, _ := strings.Cut(text(other.KSK), "\n"+other.KSK.DNSKEY.String()+"\n")
	bad := func(input, why string) {
		t.Helper()
		_, err := dnslab.ParseKey([]byte(input))
		if !errors.Is(err, dnslab.ErrBadKey) || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseKey: %v, want ErrBadKey saying %q", err, why)
		}
	}
	bad("", "want a DNSKEY record")
	bad("garbage", "the DNSKEY")
	bad(strings.Replace(ksk, "DNSKEY\t257", "DNSKEY\t385", 1), "flags 385")
	bad(strings.Replace(ksk, "IN\tDNSKEY", "IN\tTXT", 1), "want a DNSKEY record")
	bad(strings.Replace(ksk, "257 3 13", "257 3 8", 1), "algorithm 8")
	bad(strings.Replace(ksk, "PrivateKey:", "PrivateKeys:", 1), "no private scalar")
	bad(strings.Replace(ksk, "Algorithm: 13", "Algorithm: 8", 1), "private key algorithm")
	bad(strings.Replace(ksk, "v1.3", "v9", 1), "private key format")
	bad(pub+priv, "does not belong to the DNSKEY")
}

// TestParseMode checks the modes' names, "" being ad.
func TestParseMode(t *testing.T) {
	for in, want := range map[string]dnslab.Mode{"": dnslab.ModeAD, "ad": dnslab.ModeAD, "signed": dnslab.ModeSigned} {
		if got, err := dnslab.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := dnslab.ParseMode("AD"); err == nil || !strings.Contains(err.Error(), "want ad or signed") {
		t.Errorf("ParseMode(AD): %v", err)
	}
}
