package probe

import (
	"context"
	"testing"
	"time"

	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/sender"
)

func TestProbeAgainstLab(t *testing.T) {
	dir := t.TempDir()
	l, err := lab.Start(lab.Config{StateDir: dir, DNS: "127.0.0.1:0", Addressing: lab.Addressing{Ephemeral: true}, SessionsFile: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pc, _ := profiles.Builtin()
	base := sender.Options{Resolver: &sender.Resolver{Addr: l.Layout().DNS}, Roots: l.CA().CAPool(),
		Timeout: 5 * time.Second, PortFor: l.Layout().PortFor}
	res := Run(context.Background(), Options{Domain: "x.tlsa-mismatch.mxlab.test", Profiles: pc.All(), Base: base})
	if !res.ResolverValidates {
		t.Fatal("the lab's DNS sets AD on '. NS'")
	}
	got := map[string]Prediction{}
	for _, p := range res.Predictions {
		got[p.Profile] = p
	}
	if p := got["postfix-dane"]; p.Outcome != result.Deferred || p.Reason != "tlsa-invalid" {
		t.Errorf("postfix-dane: %+v", p)
	}
	if p := got["postfix-may"]; p.Outcome != result.Delivered {
		t.Errorf("postfix-may: %+v", p)
	}
	// No mail was sent: every session QUIT before MAIL FROM. Wait until
	// every session the probe opened has ended and been recorded.
	for deadline := time.Now().Add(30 * time.Second); l.Sessions().Active() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still running", l.Sessions().Active())
		}
	}
	if len(l.Sessions().Records()) == 0 {
		t.Fatal("the probe's sessions left no record")
	}
	for _, r := range l.Sessions().Records() {
		if r.Message != nil {
			t.Errorf("probe delivered a message: %+v", r)
		}
		for _, c := range r.Commands {
			if len(c) >= 4 && c[:4] == "MAIL" {
				t.Errorf("probe sent %q", c)
			}
		}
	}

	// A resolver that does not validate: DANE profiles are unknown.
	nonValidating, stop := startPlainResolver(t, l.Layout().DNS)
	defer stop()
	base.Resolver = &sender.Resolver{Addr: nonValidating}
	res = Run(context.Background(), Options{Domain: "x.baseline.mxlab.test", Profiles: pc.All(), Base: base})
	if res.ResolverValidates {
		t.Fatal("validates through a resolver that strips AD")
	}
	for _, p := range res.Predictions {
		dane := false
		for _, q := range pc.All() {
			dane = dane || (q.Name == p.Profile && q.Verify.DANE)
		}
		if dane && p.Outcome != Unknown {
			t.Errorf("%s: %s, want unknown without a validating resolver", p.Profile, p.Outcome)
		}
		if !dane && p.Outcome == Unknown {
			t.Errorf("%s: unknown", p.Profile)
		}
	}
	_ = scenarios.KindMX
}
