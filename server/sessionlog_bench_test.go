package server

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkSessionLogAdd is the cost of recording one session once the
// in-memory history is full (issue 14: past 10,000 records every new
// session copied all of them, 45 % of the lab's CPU). Go benchmarks of
// whole sessions never got that far.
func BenchmarkSessionLogAdd(b *testing.B) {
	l, err := NewSessionLog(filepath.Join(b.TempDir(), "sessions.jsonl"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := func(i int) Record {
		return Record{ID: fmt.Sprintf("s-%06d", i), Scenario: "baseline", Commands: []string{"EHLO client.example", "QUIT"},
			Counts: "ehlo=1 quit=1 commands=2", Messages: []string{}}
	}
	for i := range DefaultKeep + 1000 { // past the bound
		if err := l.add(rec(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.add(rec(i)); err != nil {
			b.Fatal(err)
		}
	}
}
