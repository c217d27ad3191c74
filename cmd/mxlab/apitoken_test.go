package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestAPIBeyondLoopback: an API beyond loopback needs --api-public and a
// token; --api-token-generate makes one up and prints it, and never
// replaces a token that was set. The rule is checked without binding:
// tests listen on loopback only.
func TestAPIBeyondLoopback(t *testing.T) {
	for _, c := range []struct {
		name, api         string // api "" is 0.0.0.0:10080
		public, generate  bool
		token             string
		wantErr, wantSays string
	}{
		{"no flag", "", false, false, "secret", "needs --api-public and a token", ""},
		{"no token", "", true, false, "", "needs --api-public and a token", ""},
		{"token", "", true, false, "secret", "", "WARNING: the API listens on 0.0.0.0:10080"},
		{"generated", "", true, true, "", "", "API token (generated; set MXLAB_API_TOKEN to choose one): "},
		{"set token kept", "", true, true, "secret", "", "WARNING"},
		{"generate is not public", "", false, true, "", "needs --api-public and a token", ""},
		{"loopback needs neither", "127.0.0.1:10080", false, false, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.api == "" {
				c.api = "0.0.0.0:10080"
			}
			cfg := &Config{API: c.api, APIPublic: c.public, APIToken: c.token, APITokenGenerate: c.generate}
			var stderr bytes.Buffer
			err := cfg.checkAPIAddress(&stderr)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, errUsage) {
					t.Fatalf("listenAPI: %v; want a usage error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stderr.String(), c.wantSays) {
				t.Errorf("stderr %q lacks %q", stderr.String(), c.wantSays)
			}
			switch {
			case c.api == "127.0.0.1:10080":
				if stderr.Len() != 0 || cfg.APIToken != "" {
					t.Errorf("loopback: stderr %q, token %q; want neither", stderr.String(), cfg.APIToken)
				}
			case c.token != "" && cfg.APIToken != c.token:
				t.Errorf("token %q replaced by %q", c.token, cfg.APIToken)
			case c.token == "" && (len(cfg.APIToken) < 32 || !strings.Contains(stderr.String(), cfg.APIToken)):
				t.Errorf("generated token %q not printed in %q", cfg.APIToken, stderr.String())
			}
		})
	}
}
