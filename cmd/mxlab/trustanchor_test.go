package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/lab"
)

// TestTrustAnchorCommand checks `mxlab trust-anchor`: the anchor of the
// state directory's keys in each format, the same as a `serve --dnssec
// signed` lab's manifest then names, and the errors for a manifest that is
// missing or stale (exit 78) and a format it does not know (exit 64).
func TestTrustAnchorCommand(t *testing.T) {
	state := t.TempDir()
	code, zone, stderr := mxlab(t, "trust-anchor", "--state-dir", state)
	if code != 0 || !strings.Contains(zone, "mxlab.test. 3600 IN DS ") || !strings.Contains(zone, "mxlab.test. 3600 IN DNSKEY 257 3 13 ") {
		t.Fatalf("trust-anchor: %d\n%s%s", code, zone, stderr)
	}
	for format, want := range map[string]string{
		"unbound": `trust-anchor: "mxlab.test. 3600 IN DS `,
		"delv":    `"mxlab.test." static-key 257 3 13 "`,
		"zone":    zone,
	} {
		code, out, stderr := mxlab(t, "trust-anchor", "--state-dir", state, "--format", format)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--format %s: %d\n%s%s", format, code, out, stderr)
		}
	}
	if code, _, stderr := mxlab(t, "trust-anchor", "--state-dir", state, "--format", "json"); code != 64 || !strings.Contains(stderr, `--format "json": want one of [zone unbound delv]`) {
		t.Errorf("--format json: %d %s", code, stderr)
	}

	p := startServe(t, state, "--dnssec", "signed")
	if p.layout.DNSSEC != dnslab.ModeSigned || p.layout.TrustAnchor == nil || !strings.Contains(zone, p.layout.TrustAnchor.DS) {
		t.Fatalf("manifest dnssec %q trust_anchor %+v, want signed and the state's anchor", p.layout.DNSSEC, p.layout.TrustAnchor)
	}
	dir := t.TempDir()
	manifest := filepath.Join(dir, "lab.json")
	if err := lab.WriteManifest(manifest, p.layout); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := mxlab(t, "trust-anchor", "--lab", manifest); code != 0 || out != zone {
		t.Errorf("--lab: %d\n%s%s, want\n%s", code, out, stderr, zone)
	}
	old := *p.layout
	old.TrustAnchor = nil
	oldManifest := filepath.Join(dir, "old.json")
	if err := lab.WriteManifest(oldManifest, &old); err != nil {
		t.Fatal(err)
	}
	p.kill()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"--lab", filepath.Join(dir, "nope.json")}, "no such file"},
		{"before dnssec", []string{"--lab", oldManifest}, "the manifest has no trust_anchor"},
		{"a stopped lab", []string{"--lab", manifest}, "does not answer"},
	} {
		code, out, stderr := mxlab(t, append([]string{"trust-anchor"}, c.args...)...)
		if code != 78 || out != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: %d %q %s, want 78 saying %q", c.name, code, out, stderr, c.want)
		}
	}
	// Asked not to check, the manifest's anchor is printed as it is.
	if code, out, _ := mxlab(t, "trust-anchor", "--lab", manifest, "--check=false"); code != 0 || out != zone {
		t.Errorf("--check=false: %d %s", code, out)
	}
}

// TestServeDNSSECFlag checks an unknown mode is bad configuration.
func TestServeDNSSECFlag(t *testing.T) {
	code, _, stderr := mxlab(t, "serve", "--ephemeral", "--state-dir", t.TempDir(), "--sessions-file", "-", "--dnssec", "validating")
	if code != 78 || !strings.Contains(stderr, `dnssec mode "validating": want ad or signed`) {
		t.Errorf("--dnssec validating: %d %s", code, stderr)
	}
}
