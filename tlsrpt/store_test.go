package tlsrpt

import (
	"fmt"
	"sync"
	"testing"
)

func TestStoreBoundAndOrder(t *testing.T) {
	s := &Store{Max: 3}
	for i := range 5 {
		s.Add(&Report{ReportID: fmt.Sprint(i)}, ViaMailto)
	}
	var ids string
	for _, r := range s.List() {
		ids += r.Report.ReportID
	}
	if ids != "432" {
		t.Errorf("kept %q, want the newest three, newest first: 432", ids)
	}
}

// Adds and lists from many goroutines (go test -race checks the locking).
func TestStoreConcurrent(t *testing.T) {
	var s Store
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				s.Add(&Report{ReportID: fmt.Sprint(i, j)}, ViaHTTPS)
				s.List()
			}
		})
	}
	wg.Wait()
	if n := len(s.List()); n != 400 {
		t.Errorf("%d reports, want 400", n)
	}
}
