package certs

import (
	"testing"
	"time"
)

// TestLeafKeptOrReissued walks one leaf through the knobs, reopening the
// store at each step as a restarted lab would, and checks when the stored
// certificate is served again and when it is re-issued (always for the
// same key, so TLSA 3 1 x records survive).
func TestLeafKeptOrReissued(t *testing.T) {
	dir := t.TempDir()
	names := []string{"mx.knobs.mxlab.test"}
	steps := []struct {
		name    string
		spec    LeafSpec
		at      time.Duration // the clock, from knobNow
		reissue bool
	}{
		{"expired", LeafSpec{NotBefore: -400 * day, NotAfter: -30 * day}, 0, true},
		// Never refused for being expired when expired was asked for.
		{"expired again", LeafSpec{NotBefore: -400 * day, NotAfter: -30 * day}, 0, false},
		{"expired, half a day later", LeafSpec{NotBefore: -400 * day, NotAfter: -30 * day}, 12 * time.Hour, false},
		// Now it expired 33 days ago, not 30.
		{"expired, 3 days later", LeafSpec{NotBefore: -400 * day, NotAfter: -30 * day}, 3 * day, true},
		{"default after expired", LeafSpec{}, 3 * day, true},
		{"default again", LeafSpec{}, 3 * day, false},
		{"default, 2 days later", LeafSpec{}, 5 * day, false},
		{"default near its end", LeafSpec{}, 3*day + leafValidity - 6*day, true},
		{"not yet valid", LeafSpec{NotBefore: 30 * day}, 0, true},
		{"not yet valid again", LeafSpec{NotBefore: 30 * day}, 0, false},
		// renewBefore is for the default validity only.
		{"custom, ending in 3 days", LeafSpec{NotBefore: -30 * day, NotAfter: 3 * day}, 0, true},
		{"custom, ending in 3 days, again", LeafSpec{NotBefore: -30 * day, NotAfter: 3 * day}, 0, false},
		{"custom, 60 days", LeafSpec{NotBefore: -30 * day, NotAfter: 30 * day}, 0, true},
		// Valid and far from its end, but not the default window.
		{"default after 60 days", LeafSpec{}, 0, true},
		{"intermediate", LeafSpec{Issuer: IssuerIntermediate}, 0, true},
		{"intermediate again", LeafSpec{Issuer: IssuerIntermediate}, 0, false},
		{"leaf-only", LeafSpec{Issuer: IssuerIntermediate, Chain: ChainLeafOnly}, 0, true},
		{"leaf-only again", LeafSpec{Issuer: IssuerIntermediate, Chain: ChainLeafOnly}, 0, false},
		{"wrong-intermediate", LeafSpec{Issuer: IssuerIntermediate, Chain: ChainWrongIntermediate}, 0, true},
		{"wrong-intermediate again", LeafSpec{Issuer: IssuerIntermediate, Chain: ChainWrongIntermediate}, 0, false},
		{"untrusted-ca", LeafSpec{Issuer: IssuerUntrusted}, 0, true},
		{"untrusted-ca again", LeafSpec{Issuer: IssuerUntrusted}, 0, false},
		{"self", LeafSpec{Issuer: IssuerSelf}, 0, true},
		{"self again", LeafSpec{Issuer: IssuerSelf}, 0, false},
		{"SelfSigned, the same", LeafSpec{SelfSigned: true}, 0, false},
		{"lab-ca", LeafSpec{Issuer: IssuerCA}, 0, true},
		{"lab-ca as the default", LeafSpec{}, 0, false},
	}
	var prev *Leaf
	for _, st := range steps {
		now := knobNow.Add(st.at)
		s, err := Open(dir, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		spec := st.spec
		spec.Name, spec.DNSNames, spec.Key = "knobs", names, ECDSAP256
		l, err := s.Leaf(spec)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if prev != nil {
			if got := !l.Cert.Equal(prev.Cert); got != st.reissue {
				t.Errorf("%s: re-issued = %v, want %v", st.name, got, st.reissue)
			}
			if !samePublicKey(l.Cert.PublicKey, prev.Cert.PublicKey) {
				t.Errorf("%s: key changed", st.name)
			}
		}
		w, _ := spec.window()
		nb, na := l.Cert.NotBefore.Sub(now), l.Cert.NotAfter.Sub(now)
		if w.standard {
			if got := na - nb; got != leafValidity-defaultNotBefore || nb > 0 || na < renewBefore {
				t.Errorf("%s: valid %s … %s from now, want the default window of %s around now", st.name, nb, na, leafValidity-defaultNotBefore)
			}
		} else if !near(nb, w.notBefore) || !near(na, w.notAfter) {
			t.Errorf("%s: valid %s … %s from now, want about %s … %s", st.name, nb, na, w.notBefore, w.notAfter)
		}
		onDisk, err := ReadCerts(l.CertPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(onDisk) != 1+len(l.Chain) {
			t.Errorf("%s: %s holds %d certificates, want the leaf and %d", st.name, l.CertPath, len(onDisk), len(l.Chain))
		}
		prev = l
	}
}

func TestOffset(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-30 * day:        "now-30d",
		400 * day:        "now+400d",
		-time.Hour:       "now-1h0m0s",
		36 * time.Hour:   "now+36h0m0s",
		-36 * time.Hour:  "now-36h0m0s",
		90 * time.Minute: "now+1h30m0s",
	} {
		if got := offset(d); got != want {
			t.Errorf("offset(%v) = %q, want %q", d, got, want)
		}
	}
}
