package certs

import (
	"crypto/x509"
	"fmt"
	"time"
)

const (
	// defaultNotBefore backdates a leaf so that a client whose clock is a
	// little behind still accepts it.
	defaultNotBefore = -time.Hour
	leafValidity     = 397 * 24 * time.Hour // the CA/B Forum's maximum
	// renewBefore re-issues a leaf of the default validity that would
	// expire this soon, so a lab started now does not serve a certificate
	// that expires mid-run.
	renewBefore = 7 * 24 * time.Hour
	// windowTolerance is how far a stored leaf with a requested validity
	// may have drifted from the requested offsets and still be served: a
	// lab restarted within a day keeps its certificates (and TLSA 3 0 x
	// records), and "expired 30 days ago" still reads true.
	windowTolerance = 24 * time.Hour
)

// window is a leaf's validity as offsets from the time it is issued.
type window struct {
	notBefore, notAfter time.Duration
	// standard is the default validity, kept current by renewBefore; any
	// other window is kept at its offsets, expired or not.
	standard bool
}

// window resolves the spec's validity: zero fields take the defaults,
// and the end must come after the start (RFC 5280 §4.1.2.5).
func (spec LeafSpec) window() (window, error) {
	w := window{notBefore: spec.NotBefore, notAfter: spec.NotAfter, standard: spec.NotBefore == 0 && spec.NotAfter == 0}
	nbNote, naNote := "", ""
	if w.notBefore == 0 {
		w.notBefore, nbNote = defaultNotBefore, ", the default"
	}
	if w.notAfter == 0 {
		w.notAfter, naNote = leafValidity, ", the default"
	}
	if w.notAfter <= w.notBefore {
		return window{}, fmt.Errorf("certs: leaf %s: NotAfter (%s%s) is not after NotBefore (%s%s)",
			spec.Name, offset(w.notAfter), naNote, offset(w.notBefore), nbNote)
	}
	return w, nil
}

// fits reports whether cert, issued earlier, still has the validity the
// window asks for at now.
func (w window) fits(cert *x509.Certificate, now time.Time) bool {
	if w.standard {
		// The stored window must be the default one (not left over from
		// a scenario that asked for another) and current for a while.
		return near(cert.NotAfter.Sub(cert.NotBefore), w.notAfter-w.notBefore) &&
			!now.Before(cert.NotBefore) && !now.Add(renewBefore).After(cert.NotAfter)
	}
	// A window that was asked for is kept as asked, even expired or not
	// yet valid: it is the scenario.
	return near(cert.NotBefore.Sub(now), w.notBefore) && near(cert.NotAfter.Sub(now), w.notAfter)
}

func near(a, b time.Duration) bool {
	d := a - b
	return -windowTolerance <= d && d <= windowTolerance
}

// offset renders an offset from now in days when it is whole days.
func offset(d time.Duration) string {
	const day = 24 * time.Hour
	if d != 0 && d%day == 0 {
		return fmt.Sprintf("now%+dd", int64(d/day))
	}
	if d >= 0 {
		return "now+" + d.String()
	}
	return "now" + d.String()
}
