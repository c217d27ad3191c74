package server

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/scenarios"
)

// TestRealServerTranscripts replays the client side of transcripts
// captured from the real servers (Debian 12's Postfix, sendmail and Exim,
// testdata/transcripts) against the lab speaking that server's dialect,
// and compares every server line, with dates, queue ids and host names
// normalised.
func TestRealServerTranscripts(t *testing.T) {
	tests := []struct {
		file     string
		scenario string
		edit     func(*scenarios.Scenario, *Config)
	}{
		{"postfix-plain.txt", "baseline", nil},
		{"postfix-encrypt.txt", "submission", func(sc *scenarios.Scenario, _ *Config) { sc.SMTP.Auth = nil }},
		{"sendmail-plain.txt", "no-starttls", sendmailLikeCaptured(true)},
		{"sendmail-nostarttls.txt", "no-starttls", sendmailLikeCaptured(false)},
		{"exim-default-plain.txt", "sni-reject", nil},
		{"exim-notls.txt", "sni-reject", func(sc *scenarios.Scenario, _ *Config) { off := false; sc.SMTP.STARTTLS = &off }},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".txt"), func(t *testing.T) {
			steps := readTranscript(t, filepath.Join("..", "testdata", "transcripts", tt.file))
			ts := startScenario(t, tt.scenario, func(sc *scenarios.Scenario, c *Config) {
				c.Host = "mx.lab.test" // the captured servers' name
				if tt.edit != nil {
					tt.edit(sc, c)
				}
			})
			d := smtpexpect.Dial(t, ts.addr)
			for _, st := range steps {
				if st.client != "" || st.isClient {
					d.Send(st.client)
				}
				var got []string
				for len(got) < len(st.server) {
					_, lines := d.Reply()
					got = append(got, lines...)
				}
				for i := range st.server {
					if g, w := normalize(got[i]), normalize(st.server[i]); g != w {
						t.Errorf("after %q:\n lab:  %s\n real: %s", st.client, g, w)
					}
				}
			}
		})
	}
}

// sendmailLikeCaptured configures the no-starttls scenario as the
// captured sendmail was: STARTTLS on or off.
func sendmailLikeCaptured(starttls bool) func(*scenarios.Scenario, *Config) {
	return func(sc *scenarios.Scenario, c *Config) {
		sc.SMTP.STARTTLS = &starttls
		if starttls {
			leaf, err := pki.Leaf(certsSpec("mx.lab.test"))
			if err != nil {
				panic(err)
			}
			c.Certificate = &leaf.TLS
		}
	}
}

type step struct {
	client   string
	isClient bool
	server   []string
}

// readTranscript groups a transcript into client lines and the server
// lines that follow each; DATA body lines are client lines with no reply.
func readTranscript(t *testing.T, path string) []step {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []step
	cur := &step{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "C: "):
			steps = append(steps, *cur)
			cur = &step{client: line[3:], isClient: true}
		case line == "C:":
			steps = append(steps, *cur)
			cur = &step{isClient: true}
		case strings.HasPrefix(line, "S: "):
			cur.server = append(cur.server, line[3:])
		}
	}
	return append(steps, *cur)
}

var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (\+0000|GMT)`), "DATE"},
	{regexp.MustCompile(`queued as [0-9A-F]+`), "queued as QUEUEID"},
	{regexp.MustCompile(`id=[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}`), "id=QUEUEID"},
	{regexp.MustCompile(`^250 2\.0\.0 [0-9A-Za-z]{14} Message accepted`), "250 2.0.0 QUEUEID Message accepted"},
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}
