package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/mxlab/mxlab/matrix"
	"github.com/mxlab/mxlab/sender"
	"github.com/mxlab/mxlab/tlsrpt"
)

// tlsrptFile is where --tlsrpt writes: opened before any mail is sent,
// so an unwritable path fails the command before the attempts.
type tlsrptFile struct {
	f       *os.File
	written bool
}

// openTLSRPT opens path for --tlsrpt; "" is no file.
func openTLSRPT(path string) (*tlsrptFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--tlsrpt: %w", err)
	}
	return &tlsrptFile{f: f}, nil
}

// tlsrptReport is the report a profile would send about its attempts
// that day (RFC 8460 §4.1: a whole UTC day), from "mxlab, as PROFILE"
// (docs/tlsrpt.md).
func tlsrptReport(profile string, now time.Time, reps []*sender.Report) *tlsrpt.Report {
	day := now.UTC().Truncate(24 * time.Hour)
	return tlsrpt.FromAttempts("mxlab, as "+profile, "tlsrpt@"+profile+".mxlab.invalid", day, day.Add(24*time.Hour-time.Second), reps)
}

// write writes v (a report or a list of them) after checking each report
// with tlsrpt.Validate; a report that fails is a bug, and close then
// leaves no file behind.
func (t *tlsrptFile) write(v any, reports ...*tlsrpt.Report) error {
	if t == nil {
		return nil
	}
	for _, r := range reports {
		b, err := json.Marshal(r)
		if err == nil {
			err = tlsrpt.Validate(b)
		}
		if err != nil {
			return fmt.Errorf("--tlsrpt: the report of %s does not validate: %w", r.OrganizationName, err)
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("--tlsrpt: %w", err)
	}
	if _, err := t.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("--tlsrpt: %w", err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("--tlsrpt: %w", err)
	}
	t.written = true
	return nil
}

// close removes the file when the command ends without writing it, so
// no empty or partial report is left behind.
func (t *tlsrptFile) close() {
	if t != nil && !t.written {
		t.f.Close()
		os.Remove(t.f.Name())
	}
}

// writeMatrixTLSRPT writes a matrix's reports: one per profile, in the
// matrix's column order, about that profile's attempts.
func writeMatrixTLSRPT(out *tlsrptFile, res *matrix.Result) error {
	now := time.Now()
	reports := []*tlsrpt.Report{}
	for _, p := range res.Profiles {
		var reps []*sender.Report
		for i := range res.Cells {
			if c := &res.Cells[i]; c.Profile == p.Name && c.Report != nil {
				reps = append(reps, c.Report)
			}
		}
		reports = append(reports, tlsrptReport(p.Name, now, reps))
	}
	return out.write(reports, reports...)
}
