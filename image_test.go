package mxlab_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/realpeer"
)

// imageConfig is the part of `podman image inspect` the test checks.
type imageConfig struct {
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		ExposedPorts map[string]struct{}
	}
	// Healthcheck is beside Config in podman's answer (the OCI config
	// has no health check; the docker format keeps it).
	Healthcheck struct{ Test []string }
}

// TestImage builds the image as `make image` does, with podman (no
// registry, no container engine), and checks it without running a
// container, which these machines cannot: its configuration, that it
// holds the binary and nothing to run but it, that the binary starts
// (--version), and that its entrypoint and command, run from a copy of
// the image's files under its own user in a private network namespace,
// bring up a lab whose health check passes and whose API wants the token
// it generated and printed.
func TestImage(t *testing.T) {
	podman := realpeer.Need(t, realpeer.Podman)
	mk := realpeer.Need(t, realpeer.Make)
	realpeer.NeedNetns(t)
	tag := fmt.Sprintf("localhost/mxlab-test:%d", os.Getpid())
	if r := realpeer.Run(t, realpeer.Cmd{Path: mk, Args: []string{"image", "IMAGE=" + tag}, Timeout: 10 * time.Minute}); r.Code != 0 {
		t.Fatalf("make image: exit %d", r.Code)
	}
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", tag).Run() })

	r := realpeer.Run(t, realpeer.Cmd{Path: podman, Args: []string{"image", "inspect", tag}})
	var inspected []imageConfig
	if err := json.Unmarshal([]byte(r.Stdout), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v: %q", err, r.Stdout)
	}
	cfg, health := inspected[0].Config, inspected[0].Healthcheck
	if cfg.User != "65532:65532" {
		t.Errorf("user %q, want a non-root 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/mxlab"}) {
		t.Errorf("entrypoint %q, want [/mxlab]", cfg.Entrypoint)
	}
	// The docker format keeps HEALTHCHECK; the binary itself performs it.
	if len(health.Test) < 3 || health.Test[0] != "CMD" || health.Test[1] != "/mxlab" || health.Test[2] != "health" {
		t.Errorf("health check %q, want CMD /mxlab health …", health.Test)
	}
	for _, port := range []string{"10024/tcp", "10080/tcp"} {
		if _, ok := cfg.ExposedPorts[port]; !ok {
			t.Errorf("port %s is not exposed: %v", port, cfg.ExposedPorts)
		}
	}

	mount := strings.TrimSpace(realpeer.Run(t, realpeer.Cmd{Path: podman, Args: []string{"image", "mount", tag}}).Stdout)
	t.Cleanup(func() { _ = exec.Command(podman, "image", "unmount", tag).Run() })
	var files []string
	err := filepath.WalkDir(mount, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(mount, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The binary and the user's entries, nothing else: no shell.
	if want := []string{"etc/group", "etc/passwd", "mxlab"}; !slices.Equal(files, want) {
		t.Errorf("the image holds %q, want %q", files, want)
	}
	if v := realpeer.Run(t, realpeer.Cmd{Path: filepath.Join(mount, "mxlab"), Args: []string{"--version"}}); v.Code != 0 || !strings.HasPrefix(v.Stdout, "mxlab ") {
		t.Errorf("mxlab --version from the image: exit %d, %q", v.Code, v.Stdout)
	}

	// The entrypoint and command as the image runs them: a copy of its
	// files as the root, its user, its environment, a namespace of its
	// own where binding port 25 and 53 unprivileged is allowed, as Docker
	// allows it in containers.
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", mount+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
	if err := os.Chmod(filepath.Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	ns := netns.New(t)
	if out, err := exec.Command("ip", "netns", "exec", ns.Name, "sh", "-c", "echo 0 >/proc/sys/net/ipv4/ip_unprivileged_port_start").CombinedOutput(); err != nil {
		t.Fatalf("sysctl in %s: %v: %s", ns.Name, err, out)
	}
	chroot := func(args ...string) []string {
		return append([]string{"env", "-i"}, append(cfg.Env, append([]string{"chroot", "--userspec=" + cfg.User, root}, args...)...)...)
	}
	argv := chroot(append(cfg.Entrypoint, cfg.Cmd...)...)
	lab := ns.Start(t, argv[0], argv[1:]...)
	manifest := filepath.Join(root, "var/lib/mxlab/lab.json")
	waitFor(t, lab, func() bool { _, err := os.Stat(manifest); return err == nil }, "the manifest")
	healthArgv := chroot(health.Test[1:]...)
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, healthArgv...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"status":"ok"`) {
		t.Fatalf("the image's health check: %v: %s\nlab:\n%s", err, out, lab.Output())
	}
	token := ""
	for _, line := range strings.Split(lab.Output(), "\n") {
		if _, tok, ok := strings.Cut(line, "API token (generated; set MXLAB_API_TOKEN to choose one): "); ok {
			token = strings.TrimSpace(tok)
		}
	}
	if token == "" || !strings.Contains(lab.Output(), "lab ready: ") || !strings.Contains(lab.Output(), "API http://") {
		t.Fatalf("the lab printed no generated token or no line saying where it listens:\n%s", lab.Output())
	}
	for _, c := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer wrong", http.StatusUnauthorized}, {"Bearer " + token, http.StatusOK}} {
		if got := getInNS(t, ns, "127.0.0.1:10080", "/api/v1/scenarios", c.auth); got != c.want {
			t.Errorf("GET /api/v1/scenarios with Authorization %q: %d, want %d", c.auth, got, c.want)
		}
	}
}

// waitFor waits until cond holds, failing the test with the process's
// output when a generous deadline passes (a process that ended early
// fails it the same way; netns reaps it, so it is not waited for here).
func waitFor(t *testing.T, p *netns.Proc, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s:\n%s", what, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getInNS asks an HTTP GET from inside the namespace and returns the status.
func getInNS(t *testing.T, ns *netns.NS, addr, path, auth string) int {
	t.Helper()
	c, err := ns.Dial(addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Close = true
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
