package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mxlab/mxlab/internal/warmstate"
)

// warm is a lab state made once per test binary by `mxlab certs`:
// generating the lab's keys is most of a cold start (about half a second
// of CPU), and these tests are not about it.
var (
	warm     warmstate.Cache
	warmOnce sync.Once
	warmErr  error
)

// warmState returns a new state directory holding the warm PKI and seed,
// for a test that starts a lab.
func warmState(t *testing.T) string {
	t.Helper()
	warmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mxlab-warm-")
		if err != nil {
			warmErr = err
			return
		}
		defer os.RemoveAll(dir)
		var o, e bytes.Buffer
		if code := run(context.Background(), []string{"certs", "--state-dir", dir}, strings.NewReader(""), &o, &e); code != 0 {
			warmErr = fmt.Errorf("mxlab certs: exit %d: %s", code, e.String())
			return
		}
		warmErr = warm.Keep(dir)
	})
	if warmErr != nil {
		t.Fatal(warmErr)
	}
	dir := t.TempDir()
	if err := warm.Seed(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
