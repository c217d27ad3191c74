package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mxlab/mxlab/server"
)

// TestLimitsConfig: the limits come from the config file's limits keys
// and the --limit-* flags, a flag winning over the file.
func TestLimitsConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mxlab.yaml")
	if err := os.WriteFile(file, []byte("limits:\n  recipients: 50\n  errors: -1\n  connections_per_client: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		file  string
		flags []string
		want  server.Limits
	}{
		{"defaults", "", nil, server.Limits{}},
		{"file", file, nil, server.Limits{Recipients: 50, Errors: -1, ConnectionsPerClient: 4}},
		{"flags over the file", file, []string{"--limit-recipients=7", "--limit-message-size=1000", "--limit-connections=9"},
			server.Limits{Recipients: 7, Errors: -1, MessageBytes: 1000, Connections: 9, ConnectionsPerClient: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newServeCmd(&cliEnv{})
			fs := cmd.Flags()
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(tc.file, fs)
			if err != nil {
				t.Fatal(err)
			}
			lc, err := cfg.labConfig()
			if err != nil {
				t.Fatal(err)
			}
			if lc.Limits != tc.want {
				t.Errorf("limits %+v, want %+v", lc.Limits, tc.want)
			}
		})
	}
}
