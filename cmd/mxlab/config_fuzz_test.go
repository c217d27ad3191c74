package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goTypeName: what a config error must never show (issue 15: errors
// name the file, line and key, never a Go type or a decoder's words).
var goTypeName = regexp.MustCompile(`\b(reflect|mapstructure|strconv|yaml)\.|\*?main\.[A-Z]|interface \{\}|decoding failed due to`)

// FuzzConfig loads arbitrary bytes as a config file, as `mxlab serve
// --config` does, and builds the lab's configuration from it. Nothing
// may panic; a file that is refused is refused with an error that names
// it and shows no Go type. Seeded with every known key at a sane value,
// the README's and the tests' configs, and each kind of mistake
// TestConfigErrors checks.
func FuzzConfig(f *testing.F) {
	var all strings.Builder
	for _, k := range knownKeys() {
		all.WriteString(k + ": x\n")
	}
	for _, s := range []string{
		"zone: lab.test\ndns: 127.0.0.1:5353\nsmtp:\n  net: 127.0.2.0/24\n  port: 2525\n",
		"timeouts:\n  command: 30s\n  session: 5m\nlimits:\n  recipients: 10\n  errors: 3\n  message_size: 1000\n",
		"scenarios:\n  - name: x\n    summary: y\n    imitates: postfix\n",
		"scenarios:\n  - name: x\n    summary: y\n    imitates: qmail\n",
		"zone: x.test\nsmtp:\n  prot: 25\n",
		"smtp:\n  port: twenty-five\n",
		"timeouts:\n  command: 5\n",
		"zone: [\n",
		"dnssec: bogus\nlog:\n  level: debug\n",
		all.String(),
		"",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "mxlab.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path, nil)
		if err == nil {
			if _, err = cfg.labConfig(); err == nil {
				_, err = cfg.catalogue()
			}
		}
		if err == nil {
			return
		}
		msg := err.Error()
		if errors.Is(err, errConfig) && !strings.Contains(msg, path) {
			t.Errorf("config error without the file's name: %q", msg)
		}
		if goTypeName.MatchString(msg) {
			t.Errorf("config error shows a Go type: %q", msg)
		}
	})
}
