package explain

import (
	"fmt"
	"strings"
	"testing"
)

// holdoutFloors are how many messages of each holdout must get their
// expected answer. testdata/holdout.yaml was written down before the
// method changed (8 of 19 right then); testdata/holdout-fresh.yaml was
// collected after it and measured once as it came (7 of 18 right with
// the code before issue 15, 13 after). Neither is used to tune
// explain, so these numbers measure how well it generalises; they may only
// go up. For issue 11 the scenario of eleven entries was relabelled before
// the code changed, from each entry's cause, because the catalogue gained
// the scenario that reproduces it (require-tls, expired-cert,
// wrong-name-cert, drop-after-220); the code before issue 11 got 14 of 19
// and 9 of 18 on the relabelled sets, the code after 19 and 14.
var holdoutFloors = map[string]int{
	"holdout.yaml":       19,
	"holdout-fresh.yaml": 14,
}

// TestHoldout measures explain on the holdout: every unrelated message must
// be rejected, and at least holdoutFloor messages must be right.
func TestHoldout(t *testing.T) {
	for file, floor := range holdoutFloors {
		t.Run(file, func(t *testing.T) { testHoldout(t, file, floor) })
	}
}

func testHoldout(t *testing.T, file string, floor int) {
	list := loadEntries(t, file)
	right := 0
	for _, e := range list {
		got := e.explain(t)
		if !e.Want.Known {
			if got.Known {
				t.Errorf("%s: unrelated message explained as %s (%s)", e.Name, got.Kind, got.Scenario)
				continue
			}
			right++
			continue
		}
		if miss := holdoutMiss(e, got); miss != "" {
			t.Logf("miss %s: %s", e.Name, miss)
			continue
		}
		right++
	}
	t.Logf("%s: %d of %d right", file, right, len(list))
	if right < floor {
		t.Errorf("%s: %d of %d right, want >= %d", file, right, len(list), floor)
	}
}

// holdoutMiss says how an answer differs from the expected one, "" when it
// does not: known, kind, alert and scenario must match, source and side
// where the entry gives them.
func holdoutMiss(e entry, got Answer) string {
	w := e.Want
	var miss []string
	if got.Known != w.Known {
		return fmt.Sprintf("known %v, want %v", got.Known, w.Known)
	}
	if got.Kind != w.Kind {
		miss = append(miss, fmt.Sprintf("kind %q, want %q", got.Kind, w.Kind))
	}
	code := 0
	if got.Alert != nil {
		code = got.Alert.Code
	}
	if code != w.Alert {
		miss = append(miss, fmt.Sprintf("alert %d, want %d", code, w.Alert))
	}
	if got.Scenario != w.Scenario {
		miss = append(miss, fmt.Sprintf("scenario %q, want %q", got.Scenario, w.Scenario))
	}
	if w.Source != "" && got.Source != w.Source {
		miss = append(miss, fmt.Sprintf("source %q, want %q", got.Source, w.Source))
	}
	if w.Side != "" && got.Side != w.Side {
		miss = append(miss, fmt.Sprintf("side %q, want %q", got.Side, w.Side))
	}
	return strings.Join(miss, "; ")
}
