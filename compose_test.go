package mxlab_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mxlab/mxlab/internal/realpeer"
)

// composeFile is the part of `docker-compose config` the test checks.
type composeFile struct {
	Services map[string]struct {
		Image       string
		Build       struct{ Context string }
		NetworkMode string `yaml:"network_mode"`
		Volumes     []string
		Sysctls     map[string]string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Ports       []string
	}
}

// TestCompose validates compose.yaml with Debian's docker-compose (no
// engine is needed for `config`) and checks what the README promises:
// the lab from `make image`, a Postfix built from postfix/ in the lab's
// network namespace that starts once the lab is healthy, the lab's state
// shared at the lab's own path, and every published port on loopback.
func TestCompose(t *testing.T) {
	dc := realpeer.Need(t, realpeer.DockerCompose)
	r := realpeer.Run(t, realpeer.Cmd{Path: dc, Args: []string{"-f", "compose.yaml", "config"}})
	if r.Code != 0 {
		t.Fatalf("docker-compose config: exit %d: %s", r.Code, r.Stderr)
	}
	var c composeFile
	if err := yaml.Unmarshal([]byte(r.Stdout), &c); err != nil {
		t.Fatalf("docker-compose config printed what is not YAML: %v", err)
	}
	lab, postfix := c.Services["mxlab"], c.Services["postfix"]
	if lab.Image != "mxlab:latest" {
		t.Errorf("mxlab service image %q, want mxlab:latest (make image)", lab.Image)
	}
	if lab.Sysctls["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("mxlab service sysctls %v: the non-root lab binds ports 25 and 53", lab.Sysctls)
	}
	if !slices.Contains(lab.Volumes, "mxlab-state:/var/lib/mxlab:rw") || !slices.Contains(postfix.Volumes, "mxlab-state:/var/lib/mxlab:ro") {
		t.Errorf("the lab's state is not shared at its own path: mxlab %v, postfix %v", lab.Volumes, postfix.Volumes)
	}
	for _, p := range lab.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is published beyond the host's loopback", p)
		}
	}
	if postfix.NetworkMode != "service:mxlab" {
		t.Errorf("postfix network_mode %q, want service:mxlab", postfix.NetworkMode)
	}
	if !strings.HasSuffix(postfix.Build.Context, "/postfix") {
		t.Errorf("postfix build context %q, want ./postfix", postfix.Build.Context)
	}
	if postfix.DependsOn["mxlab"].Condition != "service_healthy" {
		t.Errorf("postfix depends_on %v, want mxlab: service_healthy", postfix.DependsOn)
	}
	if _, err := os.Stat("postfix/Dockerfile"); err != nil {
		t.Error(err)
	}
}
