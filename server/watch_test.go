package server

import (
	"sync"
	"testing"
)

// TestWatchSessions: Watch sees every event, WatchSessions the starts
// and ends only; a stopped watcher sees nothing more, and no step event
// is built while nobody watches steps.
func TestWatchSessions(t *testing.T) {
	l, err := NewSessionLog("", 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	all, ends := map[EventType]int{}, map[EventType]int{}
	count := func(m map[EventType]int) func(Event) {
		return func(e Event) { mu.Lock(); m[e.Type]++; mu.Unlock() }
	}
	stopEnds := l.WatchSessions(count(ends))
	tr := l.start(Record{ID: "s-1"})
	if l.stepWatched() {
		t.Error("steps watched with only WatchSessions registered")
	}
	tr.add(Step{Kind: StepNote, Text: "no one reads this"})
	stopAll := l.Watch(count(all))
	if !l.stepWatched() || l.Watchers() != 2 {
		t.Errorf("stepWatched %v, %d watchers; want true, 2", l.stepWatched(), l.Watchers())
	}
	tr.add(Step{Kind: StepNote, Text: "read"})
	if err := l.add(Record{ID: "s-1"}); err != nil {
		t.Fatal(err)
	}
	stopAll()
	stopEnds()
	l.start(Record{ID: "s-2"})
	if l.Watchers() != 0 {
		t.Errorf("%d watchers after stop", l.Watchers())
	}
	if all[SessionStep] != 1 || all[SessionEnd] != 1 || all[SessionStart] != 0 {
		t.Errorf("Watch saw %v; want one step and one end", all)
	}
	if ends[SessionStep] != 0 || ends[SessionStart] != 1 || ends[SessionEnd] != 1 {
		t.Errorf("WatchSessions saw %v; want one start and one end, no steps", ends)
	}
}
