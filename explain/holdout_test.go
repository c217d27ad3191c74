package explain

import (
	"fmt"
	"strings"
	"testing"
)

// holdoutFloor is how many holdout messages must get their expected
// answer. The holdout (testdata/holdout.yaml) was written down before the
// method changed and is never used to tune it, so this number measures how
// well explain generalises; it may only go up.
const holdoutFloor = 19

// TestHoldout measures explain on the holdout: every unrelated message must
// be rejected, and at least holdoutFloor messages must be right.
func TestHoldout(t *testing.T) {
	list := loadEntries(t, "holdout.yaml")
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
	t.Logf("holdout: %d of %d right", right, len(list))
	if right < holdoutFloor {
		t.Errorf("holdout: %d of %d right, want >= %d", right, len(list), holdoutFloor)
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
