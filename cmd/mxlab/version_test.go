package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	for _, c := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "10d8991abc"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			"mxlab v1.2.0, revision 10d8991abc (2026-12-01T10:00:00Z), go1.26.8"},
		{"dirty tree", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "10d8991abc"}, {Key: "vcs.modified", Value: "true"}}},
			"mxlab (devel), revision 10d8991abc, modified, go1.26.8"},
		{"no vcs", debug.BuildInfo{GoVersion: "go1.26.8"}, "mxlab (devel), revision unknown (built without VCS information), go1.26.8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := versionOf(&c.bi); got != c.want {
				t.Errorf("versionOf = %q\nwant        %q", got, c.want)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	code, out, errOut := mxlab(t, "--version")
	if code != exitOK || !strings.HasPrefix(out, "mxlab ") || !strings.HasSuffix(out, "\n") || errOut != "" {
		t.Fatalf("mxlab --version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
