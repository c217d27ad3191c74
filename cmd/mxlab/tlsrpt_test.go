package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/tlsrpt"
)

// readReports reads a --tlsrpt file, checks it with tlsrpt.Validate and
// decodes it into want (a report or a list of them).
func readReports(t *testing.T, path string, each func(raw json.RawMessage)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		list = []json.RawMessage{data}
	}
	for _, raw := range list {
		if err := tlsrpt.Validate(raw); err != nil {
			t.Errorf("%s does not validate: %v\n%s", path, err, raw)
		}
		each(raw)
	}
}

// failureOf is the first failure of the report's entry for domain.
func failureOf(t *testing.T, raw json.RawMessage, domain string) (tlsrpt.Summary, tlsrpt.FailureDetails) {
	t.Helper()
	var rep tlsrpt.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Policies {
		if p.Policy.Domain == domain {
			var fd tlsrpt.FailureDetails
			if len(p.FailureDetails) > 0 {
				fd = p.FailureDetails[0]
			}
			return p.Summary, fd
		}
	}
	t.Fatalf("no policy for %s in %s", domain, raw)
	return tlsrpt.Summary{}, tlsrpt.FailureDetails{}
}

// send and matrix write the TLS-RPT reports their senders would send:
// Gmail at sni-reject reports a validation-failure naming alert 47.
func TestTLSRPTFlag(t *testing.T) {
	state := warmState(t)
	manifest := filepath.Join(t.TempDir(), "lab.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		var o, e bytes.Buffer
		done <- run(ctx, []string{"serve", "--state-dir", state, "--dns", "127.0.0.1:0", "--smtp-port", freePort(t, "127.0.10.1"),
			"--smtp-net", "127.0.10.0/24", "--manifest", manifest, "--sessions-file", "-", "--api", "-", "--switchboard", "-",
			"--scenario", "baseline", "--scenario", "sni-reject"}, strings.NewReader(""), &o, &e)
	}()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(manifest); err == nil {
			break
		}
	}
	dir := t.TempDir()

	t.Run("send sni-reject gmail", func(t *testing.T) {
		path := filepath.Join(dir, "gmail.json")
		code, out, errOut := mxlab(t, "send", "--lab", manifest, "--profile", "gmail", "--to", "a@x.sni-reject.mxlab.test", "--tlsrpt", path)
		if !strings.Contains(out, "alert 47") {
			t.Errorf("exit %d: %s%s", code, out, errOut)
		}
		readReports(t, path, func(raw json.RawMessage) {
			sum, fd := failureOf(t, raw, "x.sni-reject.mxlab.test")
			if sum.TotalFailure != 1 || sum.TotalSuccessful != 0 || fd.ResultType != tlsrpt.ValidationFailure ||
				fd.FailureReasonCode != "alert 47 (illegal_parameter)" || fd.FailedSessionCount != 1 || fd.ReceivingMXHostname == "" || fd.ReceivingIP == "" {
				t.Errorf("summary %+v, failure %+v; want one validation-failure naming alert 47:\n%s", sum, fd, raw)
			}
		})
	})
	t.Run("send baseline postfix-may", func(t *testing.T) {
		path := filepath.Join(dir, "may.json")
		if code, out, errOut := mxlab(t, "send", "--lab", manifest, "--profile", "postfix-may", "--to", "a@x.baseline.mxlab.test", "--tlsrpt", path); code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		readReports(t, path, func(raw json.RawMessage) {
			if sum, _ := failureOf(t, raw, "x.baseline.mxlab.test"); sum != (tlsrpt.Summary{TotalSuccessful: 1}) {
				t.Errorf("summary %+v, want one success", sum)
			}
		})
	})
	t.Run("send unwritable", func(t *testing.T) {
		path := filepath.Join(dir, "no-such-dir", "r.json")
		code, _, errOut := mxlab(t, "send", "--lab", manifest, "--profile", "gmail", "--to", "a@x.baseline.mxlab.test", "--tlsrpt", path)
		if code != exitFailure || !strings.Contains(errOut, "--tlsrpt: open "+path) {
			t.Errorf("exit %d, stderr %q; want 1 naming the path", code, errOut)
		}
	})
	t.Run("matrix", func(t *testing.T) {
		path := filepath.Join(dir, "matrix.json")
		code, out, errOut := mxlab(t, "matrix", "--lab", manifest, "--profiles", "gmail,postfix-may", "--scenarios", "sni-reject,baseline", "--tlsrpt", path)
		if code != 0 && code != exitFailure {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		var orgs []string
		readReports(t, path, func(raw json.RawMessage) {
			var rep tlsrpt.Report
			json.Unmarshal(raw, &rep)
			orgs = append(orgs, rep.OrganizationName)
			if rep.OrganizationName == "mxlab, as gmail" {
				if _, fd := failureOf(t, raw, "gmail.sni-reject.mxlab.test"); fd.FailureReasonCode != "alert 47 (illegal_parameter)" {
					t.Errorf("gmail at sni-reject: %+v", fd)
				}
			}
		})
		if strings.Join(orgs, ",") != "mxlab, as gmail,mxlab, as postfix-may" {
			t.Errorf("reports from %q, want one per profile in column order", orgs)
		}
	})
}
