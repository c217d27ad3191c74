package main

import (
	"fmt"
	"runtime/debug"
)

// versionText is what `mxlab --version` prints: the module version and the
// VCS revision the go command stamped into the binary (go help buildvcs).
// A binary built outside a repository, or with -buildvcs=false, has no
// revision, and says so rather than print an empty one.
func versionText() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "mxlab (no build information)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, when, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	out := "mxlab " + version
	switch {
	case rev == "":
		out += ", revision unknown (built without VCS information)"
	default:
		out += ", revision " + rev
		if when != "" {
			out += " (" + when + ")"
		}
		if modified == "true" {
			out += ", modified"
		}
	}
	return fmt.Sprintf("%s, %s", out, bi.GoVersion)
}
