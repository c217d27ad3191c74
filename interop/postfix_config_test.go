package interop

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSharedPostfixConfig: the interop suite's Postfix and compose.yaml's
// (postfix/Dockerfile, postfix/start.sh) aim at the lab with the same
// settings, read from one file, and nothing in either overrides them.
func TestSharedPostfixConfig(t *testing.T) {
	settings := labClientSettings(t)
	if len(settings) == 0 {
		t.Fatal(labClientCF + " holds no setting")
	}
	setting := regexp.MustCompile(`^([A-Za-z_0-9]+) = (\S.*)$`)
	names := map[string]bool{}
	for _, s := range settings {
		m := setting.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("%s: %q is not one \"name = value\" setting", labClientCF, s)
		}
		if names[m[1]] {
			t.Errorf("%s sets %s twice", labClientCF, m[1])
		}
		names[m[1]] = true
	}
	for _, want := range []string{"smtp_dns_support_level", "smtp_tls_CAfile"} {
		if !names[want] {
			t.Errorf("%s does not set %s: the lab's DNS and CA are its job", labClientCF, want)
		}
	}

	// The interop suite's main.cf: every shared setting, none set again.
	p := &postfixInstance{dir: t.TempDir()}
	p.etc, p.logs = filepath.Join(p.dir, "etc"), filepath.Join(p.dir, "logs")
	if err := os.Mkdir(p.etc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []backoff{firstBackoff, retryBackoff} {
		p.writeMain(t, "check", b)
		checkMainCF(t, "interop main.cf", readFile(t, filepath.Join(p.etc, "main.cf")), settings, names)
	}
	// The CA is where the shared setting looks for it.
	if !strings.Contains(readFile(t, "postfix_test.go"), `p.write(t, "mxlab-ca.pem"`) {
		t.Error(`the interop Postfix does not write the lab CA as mxlab-ca.pem, where smtp_tls_CAfile looks`)
	}

	// compose.yaml's Postfix: the image takes the same files, and its
	// start script writes them into main.cf before its own settings.
	dockerfile := readFile(t, "../postfix/Dockerfile")
	if !regexp.MustCompile(`(?m)^COPY .*\blab-client\.cf\b.*\bresolv\.conf\b`).MatchString(dockerfile) {
		t.Error("postfix/Dockerfile does not copy lab-client.cf and resolv.conf")
	}
	start := readFile(t, "../postfix/start.sh")
	if !strings.Contains(start, `cat "$here/lab-client.cf"`) || !strings.Contains(start, `cat "$here/resolv.conf" >/etc/resolv.conf`) || !strings.Contains(start, "/etc/postfix/mxlab-ca.pem") {
		t.Error("postfix/start.sh does not use lab-client.cf, resolv.conf and mxlab-ca.pem as the interop suite does")
	}
	// Its own main.cf lines (the heredoc) must not set a shared name.
	if _, own, ok := strings.Cut(start, "<<CF\n"); ok {
		own, _, _ = strings.Cut(own, "\nCF\n")
		checkMainCF(t, "postfix/start.sh main.cf", own, nil, names)
	} else {
		t.Error("postfix/start.sh: no main.cf heredoc")
	}
}

// checkMainCF checks that main.cf holds every shared setting once and no
// other line sets a shared name.
func checkMainCF(t *testing.T, what, mainCF string, settings []string, names map[string]bool) {
	t.Helper()
	lines := strings.Split(mainCF, "\n")
	for _, s := range settings {
		n := 0
		for _, l := range lines {
			if strings.TrimSpace(l) == s {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has %q %d times, want once", what, s, n)
		}
	}
	for _, l := range lines {
		name, _, ok := strings.Cut(l, " = ")
		if ok && names[strings.TrimSpace(name)] && !slices.Contains(settings, strings.TrimSpace(l)) {
			t.Errorf("%s sets %s itself: %q", what, name, l)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
