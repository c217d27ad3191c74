package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestLongSessionStaysSmall is issue 14's probe: one session of 50,000
// NOOPs with 2 KB arguments once made a 97 MB JSON line and 460 MB of
// memory that stayed after the session closed.
func TestLongSessionStaysSmall(t *testing.T) {
	const n = 50000
	ts := startScenario(t, "baseline", nil)
	before := heapInUse()

	c, err := net.DialTimeout("tcp", ts.addr, smtpexpect.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line := []byte("NOOP " + strings.Repeat("x", 2000) + "\r\n")
	sent := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(c, 64<<10)
		for range n {
			if _, err := w.Write(line); err != nil {
				sent <- err
				return
			}
		}
		_, err := w.WriteString("QUIT\r\n")
		if err == nil {
			err = w.Flush()
		}
		sent <- err
	}()
	// Read every reply: 220, n times 250, 221, then the close.
	r := bufio.NewReader(c)
	counts := map[string]int{}
	for {
		c.SetReadDeadline(time.Now().Add(smtpexpect.Timeout))
		l, err := r.ReadString('\n')
		if err != nil {
			break
		}
		counts[l[:3]]++
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if counts["250"] != n || counts["221"] != 1 {
		t.Fatalf("replies by code: %v", counts)
	}
	rec := ts.waitRecords(t, 1)[0]
	if len(rec.Commands) != MaxCommands || rec.CommandsOmitted != n+1-MaxCommands {
		t.Errorf("record keeps %d commands and omits %d; want %d and %d", len(rec.Commands), rec.CommandsOmitted, MaxCommands, n+1-MaxCommands)
	}
	if want := fmt.Sprintf("noop=%d quit=1 commands=%d", n, n+1); rec.Counts != want {
		t.Errorf("counts %q, want %q", rec.Counts, want)
	}
	js, _ := json.Marshal(rec)
	if len(js) > 256<<10 {
		t.Errorf("JSON line of %d bytes", len(js))
	}
	after := heapInUse()
	t.Logf("heap before %d KiB, after %d KiB; JSON line %d bytes", before>>10, after>>10, len(js))
	if after > before+8<<20 {
		t.Errorf("heap grew by %d KiB after the session ended", (after-before)>>10)
	}
}

// TestRecordRing checks the in-memory history's two bounds.
func TestRecordRing(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxN, maxBytes int
		sizes          []int
		want           []string // ids kept, oldest first
	}{
		{"under both bounds", 4, 100, []int{10, 10, 10}, []string{"0", "1", "2"}},
		{"count bound", 2, 100, []int{10, 10, 10, 10}, []string{"2", "3"}},
		{"byte bound", 10, 25, []int{10, 10, 10, 10}, []string{"2", "3"}},
		{"newest kept even when alone over bytes", 10, 25, []int{10, 50}, []string{"1"}},
		{"wraps many times", 3, 1 << 20, make([]int, 200), []string{"197", "198", "199"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := recordRing{maxN: tc.maxN, maxBytes: tc.maxBytes}
			for i, size := range tc.sizes {
				q.push(Record{ID: fmt.Sprint(i)}, size)
			}
			var got []string
			for _, r := range q.all() {
				got = append(got, r.ID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			last := tc.want[len(tc.want)-1]
			if _, ok := q.find(last); !ok {
				t.Errorf("find(%s) failed", last)
			}
			if _, ok := q.find("nope"); ok {
				t.Error("found an id never added")
			}
		})
	}
}

// TestReadJSONLinesSkipsTornLine: a killed lab can leave a partial last
// line; readers skip it, and report any other bad line.
func TestReadJSONLinesSkipsTornLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      bool
	}{
		{"whole lines", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", []string{"a", "b"}, false},
		{"torn last line", "{\"id\":\"a\"}\n{\"id\":\"b", []string{"a"}, false},
		{"whole last line without its newline is not trusted", "{\"id\":\"a\"}\n{\"id\":\"b\"}", []string{"a"}, false},
		{"empty", "", nil, false},
		{"bad line in the middle", "{\"id\":\"a\"}\n{\"id\n{\"id\":\"c\"}\n", []string{"a"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := ReadJSONLines[Record](strings.NewReader(tc.in))
			var got []string
			for _, r := range recs {
				got = append(got, r.ID)
			}
			if (err != nil) != tc.err || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// FuzzReadJSONLines: whatever a file holds, reading never panics and
// never returns more lines than the input has complete.
func FuzzReadJSONLines(f *testing.F) {
	f.Add("{\"id\":\"s-000001\",\"commands\":[\"EHLO x\"]}\n{\"id\":\"s-0")
	f.Add("{\"queue_id\":\"4F1A2B3C4D5\",\"to\":[\"a@b\"]}\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, _ := ReadJSONLines[Record](strings.NewReader(in))
		if len(recs) > strings.Count(in, "\n") {
			t.Errorf("%d records from %d lines", len(recs), strings.Count(in, "\n"))
		}
	})
}
