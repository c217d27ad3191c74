// Package warmstate keeps a lab's state directory (its CA, keys and seed)
// in memory, so that the later labs of a test binary start without
// generating keys, which is most of a cold start (about half a second of
// CPU each). It keeps files in memory, not on disk, so nothing is left
// behind when the test binary ends. Labs seeded from one Cache share a CA
// and seed, each with its own listeners and records.
package warmstate

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Cache is a state directory kept in memory; its zero value is empty and
// ready. It is safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	files map[string]file // by slash path below the directory; nil until kept
}

type file struct {
	data []byte
	mode fs.FileMode
}

// Warm says whether a state has been kept.
func (c *Cache) Warm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.files != nil
}

// Seed writes the kept state, if any, into dst.
func (c *Cache) Seed(dst string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, f := range c.files {
		path := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// Keep reads the regular files below src as the kept state, unless one
// is kept already.
func (c *Cache) Keep(src string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files != nil {
		return nil
	}
	files := map[string]file{}
	err := fs.WalkDir(os.DirFS(src), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(name)))
		files[name] = file{data: data, mode: info.Mode().Perm()}
		return err
	})
	if err != nil {
		return err
	}
	c.files = files
	return nil
}
