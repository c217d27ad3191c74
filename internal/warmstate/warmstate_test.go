package warmstate

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKeepAndSeed(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "pki", "ca"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "pki", "ca", "ca-key.pem"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "seed"), []byte("seed"), 0o644); err != nil {
		t.Fatal(err)
	}
	var c Cache
	if c.Warm() {
		t.Fatal("a new cache is warm")
	}
	empty := t.TempDir()
	if err := c.Seed(empty); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("an empty cache seeded %v", entries)
	}
	if err := c.Keep(src); err != nil || !c.Warm() {
		t.Fatalf("Keep: %v", err)
	}
	// A second Keep keeps the first state.
	other := t.TempDir()
	if err := c.Keep(other); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := c.Seed(dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		data string
		mode os.FileMode
	}{"pki/ca/ca-key.pem": {"key", 0o600}, "seed": {"seed", 0o644}} {
		path := filepath.Join(dst, filepath.FromSlash(name))
		data, err := os.ReadFile(path)
		fi, _ := os.Stat(path)
		if err != nil || string(data) != want.data || fi.Mode().Perm() != want.mode {
			t.Errorf("%s: %q %v, %v; want %q %v", name, data, fi.Mode().Perm(), err, want.data, want.mode)
		}
	}
}
