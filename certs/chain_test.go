package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/realpeer"
)

const day = 24 * time.Hour

// knobNow is the fixed time of the knob tests: certificates are issued
// and verified at it (openssl verify -attime), so nothing depends on the
// clock of the run.
var knobNow = time.Date(2026, 11, 22, 19, 0, 0, 0, time.UTC)

// relief is what a client would need for a broken leaf to verify: it
// shows that the knob, and nothing else, broke it.
type relief struct {
	// trustUntrusted trusts the untrusted CA instead of the lab CA.
	trustUntrusted bool
	// addIntermediate gives the client the lab intermediate.
	addIntermediate bool
	// ignoreTime skips the validity check (openssl verify
	// -no_check_time). Go has no such switch, and verifying at a time
	// inside an expired leaf's window fails on the CA, made later; there
	// the test checks instead that the leaf is what Verify blames.
	ignoreTime bool
}

type knobCase struct {
	name string
	spec LeafSpec
	// served are the CNs of the certificates that follow the leaf.
	served []string
	// goReason is why crypto/x509 refuses the served chain against the
	// lab CA: "" verifies, "expired" (CertificateInvalidError, Expired),
	// "unknown authority" (UnknownAuthorityError).
	goReason string
	// openssl is the error line of openssl verify ("" for OK).
	openssl string
	// relief, when set, makes the leaf verify.
	relief *relief
}

// knobCases are the certificate knobs, each as a scenario would set it.
func knobCases() []knobCase {
	return []knobCase{
		{name: "baseline"},
		{name: "intermediate", spec: LeafSpec{Issuer: IssuerIntermediate}, served: []string{"mxlab test intermediate"}},
		{
			name:     "expired",
			spec:     LeafSpec{NotBefore: -400 * day, NotAfter: -30 * day},
			goReason: "expired", openssl: "error 10 at 0 depth lookup: certificate has expired",
			relief: &relief{ignoreTime: true},
		},
		{
			name:     "not-yet-valid",
			spec:     LeafSpec{NotBefore: 30 * day},
			goReason: "expired", openssl: "error 9 at 0 depth lookup: certificate is not yet valid",
			relief: &relief{ignoreTime: true},
		},
		{
			name:     "expired-via-intermediate",
			spec:     LeafSpec{Issuer: IssuerIntermediate, NotBefore: -400 * day, NotAfter: -30 * day},
			served:   []string{"mxlab test intermediate"},
			goReason: "expired", openssl: "error 10 at 0 depth lookup: certificate has expired",
			relief: &relief{ignoreTime: true},
		},
		{
			name:     "leaf-only",
			spec:     LeafSpec{Issuer: IssuerIntermediate, Chain: ChainLeafOnly},
			goReason: "unknown authority", openssl: "error 20 at 0 depth lookup: unable to get local issuer certificate",
			relief: &relief{addIntermediate: true},
		},
		{
			name:     "wrong-intermediate",
			spec:     LeafSpec{Issuer: IssuerIntermediate, Chain: ChainWrongIntermediate},
			served:   []string{"mxlab test intermediate (other)"},
			goReason: "unknown authority", openssl: "error 20 at 0 depth lookup: unable to get local issuer certificate",
			relief: &relief{addIntermediate: true},
		},
		{
			name:     "untrusted-ca",
			spec:     LeafSpec{Issuer: IssuerUntrusted},
			goReason: "unknown authority", openssl: "error 20 at 0 depth lookup: unable to get local issuer certificate",
			relief: &relief{trustUntrusted: true},
		},
		{
			name:     "self-signed",
			spec:     LeafSpec{SelfSigned: true},
			goReason: "unknown authority", openssl: "error 18 at 0 depth lookup: self-signed certificate",
		},
		{
			name:     "issuer-self",
			spec:     LeafSpec{Issuer: IssuerSelf},
			goReason: "unknown authority", openssl: "error 18 at 0 depth lookup: self-signed certificate",
		},
	}
}

// knobLeaves issues every case for both key types in one store.
func knobLeaves(t *testing.T, run func(t *testing.T, s *Store, tc knobCase, l *Leaf)) {
	s, err := Open(t.TempDir(), func() time.Time { return knobNow })
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []KeyType{RSA2048, ECDSAP256} {
		for _, tc := range knobCases() {
			t.Run(tc.name+"/"+string(key), func(t *testing.T) {
				spec := tc.spec
				spec.Name = tc.name + "." + string(key)
				spec.DNSNames = []string{"mx." + tc.name + ".mxlab.test"}
				spec.Key = key
				l, err := s.Leaf(spec)
				if err != nil {
					t.Fatal(err)
				}
				run(t, s, tc, l)
			})
		}
	}
}

func TestLeafKnobs(t *testing.T) {
	knobLeaves(t, func(t *testing.T, s *Store, tc knobCase, l *Leaf) {
		var served []string
		for _, c := range l.Chain {
			served = append(served, c.Subject.CommonName)
		}
		if !slices.Equal(served, tc.served) {
			t.Fatalf("served %q after the leaf, want %q", served, tc.served)
		}
		// What crypto/tls sends and what the file holds are the leaf
		// then the chain.
		want := []*x509.Certificate{l.Cert}
		want = append(want, l.Chain...)
		if len(l.TLS.Certificate) != len(want) {
			t.Fatalf("TLS.Certificate holds %d certificates, want %d", len(l.TLS.Certificate), len(want))
		}
		onDisk, err := ReadCerts(l.CertPath)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range want {
			if string(l.TLS.Certificate[i]) != string(c.Raw) || !onDisk[i].Equal(c) {
				t.Errorf("certificate %d of TLS.Certificate or %s is not the leaf-then-chain one", i, l.CertPath)
			}
		}
		for _, c := range l.Chain {
			if c.Equal(s.CA()) || c.Equal(s.UntrustedCA()) {
				t.Errorf("the chain serves the root %s", c.Subject)
			}
		}
		// The file is what is served: loading it gives the same chain.
		loaded, err := LoadFiles(l.CertPath, l.KeyPath)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(loaded.TLS.Certificate, l.TLS.Certificate, slices.Equal) || !slices.EqualFunc(loaded.Chain, l.Chain, (*x509.Certificate).Equal) {
			t.Errorf("LoadFiles(%s) serves another chain", l.CertPath)
		}

		opts := x509.VerifyOptions{Roots: s.CAPool(), Intermediates: x509.NewCertPool(), DNSName: l.Cert.DNSNames[0], CurrentTime: knobNow}
		for _, c := range l.Chain {
			opts.Intermediates.AddCert(c)
		}
		_, err = l.Cert.Verify(opts)
		var invalid x509.CertificateInvalidError
		var unknown x509.UnknownAuthorityError
		switch tc.goReason {
		case "":
			if err != nil {
				t.Errorf("does not verify against the lab CA: %v", err)
			}
		case "expired":
			if !errors.As(err, &invalid) || invalid.Reason != x509.Expired || !invalid.Cert.Equal(l.Cert) {
				t.Errorf("Verify = %v, want a CertificateInvalidError with reason Expired for the leaf", err)
			}
		case "unknown authority":
			if !errors.As(err, &unknown) {
				t.Errorf("Verify = %v, want an UnknownAuthorityError", err)
			}
		}
		if tc.relief == nil || tc.relief.ignoreTime {
			return
		}
		if tc.relief.trustUntrusted {
			opts.Roots = s.UntrustedCAPool()
		}
		if tc.relief.addIntermediate {
			opts.Intermediates.AddCert(s.Intermediate())
		}
		if _, err := l.Cert.Verify(opts); err != nil {
			t.Errorf("does not verify even with %+v: %v", *tc.relief, err)
		}
	})
}

// TestLeafKnobsOpenSSL checks each knob with openssl verify, as admins
// check a chain, and pins its exact error line.
func TestLeafKnobsOpenSSL(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	knobLeaves(t, func(t *testing.T, s *Store, tc knobCase, l *Leaf) {
		dir := t.TempDir()
		leafFile := writeCerts(t, dir, "leaf.pem", l.Cert)
		verify := func(ca string, untrusted []*x509.Certificate, checkTime bool) realpeer.Result {
			// Not both: OpenSSL's ossl_x509_check_cert_time honours
			// -attime before -no_check_time.
			args := []string{"verify", "-CAfile", ca, "-no_check_time"}
			if checkTime {
				args = []string{"verify", "-CAfile", ca, "-attime", strconv.FormatInt(knobNow.Unix(), 10)}
			}
			if len(untrusted) > 0 {
				args = append(args, "-untrusted", writeCerts(t, dir, "untrusted.pem", untrusted...))
			}
			return realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: append(args, leafFile)})
		}
		r := verify(s.CAPath(), l.Chain, true)
		if tc.openssl == "" {
			if r.Code != 0 || r.Stdout != leafFile+": OK\n" {
				t.Fatalf("openssl verify: exit %d, %q; want OK", r.Code, r.All())
			}
		} else if r.Code == 0 || !hasLine(r.Stderr, tc.openssl) {
			t.Fatalf("openssl verify: exit %d, stderr %q; want the line %q", r.Code, r.Stderr, tc.openssl)
		}
		if tc.relief == nil {
			return
		}
		ca, untrusted := s.CAPath(), l.Chain
		if tc.relief.trustUntrusted {
			ca = s.UntrustedCAPath()
		}
		if tc.relief.addIntermediate {
			untrusted = append(untrusted, s.Intermediate())
		}
		if r := verify(ca, untrusted, !tc.relief.ignoreTime); r.Code != 0 {
			t.Errorf("openssl verify with %+v: exit %d, %q; want OK", *tc.relief, r.Code, r.All())
		}
	})
}

func hasLine(out, line string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func writeCerts(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLeafSpecErrors(t *testing.T) {
	s, err := Open(t.TempDir(), func() time.Time { return knobNow })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec LeafSpec
		want string
	}{
		{"expired without a start", LeafSpec{NotAfter: -30 * day}, "certs: leaf x: NotAfter (now-30d) is not after NotBefore (now-1h0m0s, the default)"},
		{"not yet valid past the default end", LeafSpec{NotBefore: 400 * day}, "certs: leaf x: NotAfter (now+397d, the default) is not after NotBefore (now+400d)"},
		{"empty window", LeafSpec{NotBefore: day, NotAfter: day}, "certs: leaf x: NotAfter (now+1d) is not after NotBefore (now+1d)"},
		{"unknown issuer", LeafSpec{Issuer: "lab"}, `certs: leaf x: unknown issuer "lab" (want lab-ca, lab-intermediate, untrusted-ca or self)`},
		{"unknown chain", LeafSpec{Chain: "none"}, `certs: leaf x: unknown chain "none" (want full, leaf-only or wrong-intermediate)`},
		{"self-signed by the CA", LeafSpec{SelfSigned: true, Issuer: IssuerCA}, `certs: leaf x: SelfSigned contradicts issuer "lab-ca"`},
		// Without an intermediate the knob would change nothing: the
		// scenario would silently test the baseline.
		{"leaf-only from the CA", LeafSpec{Chain: ChainLeafOnly}, `certs: leaf x: chain "leaf-only" needs issuer "lab-intermediate": a leaf issued by "lab-ca" has no intermediate to leave out or replace`},
		{"wrong intermediate, self-signed", LeafSpec{SelfSigned: true, Chain: ChainWrongIntermediate}, `chain "wrong-intermediate" needs issuer "lab-intermediate": a leaf issued by "self"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Name, spec.DNSNames = "x", []string{"mx.x.test"}
			_, err := s.Leaf(spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Leaf(%+v) = %v, want %q", tt.spec, err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "leaves", "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused spec left files behind: %v", err)
	}
}
