package topic

import (
	"slices"
	"strings"
	"testing"
)

// TestTrackFilters checks that a tracking Index reports a filter when its
// first subscriber comes and when its last goes, shared groups apart,
// through Unsubscribe and UnsubscribeAll, and the filters held before
// tracking started.
func TestTrackFilters(t *testing.T) {
	ix := NewIndex[int]()
	if _, err := ix.Subscribe(1, "before/+", Options{}); err != nil {
		t.Fatal(err)
	}
	if got := ix.TakeFilterChanges(nil); got != nil {
		t.Fatalf("changes before tracking: %v", got)
	}
	ix.TrackFilters()
	for _, s := range []struct {
		sub    int
		filter string
	}{{1, "a/#"}, {2, "a/#"}, {1, "$share/g/a/#"}, {2, "$share/g/a/#"}, {2, "$share/h/a/#"}, {1, "a/#"}} {
		if _, err := ix.Subscribe(s.sub, s.filter, Options{QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	want := []FilterChange{{"before/+", true}, {"a/#", true}, {"$share/g/a/#", true}, {"$share/h/a/#", true}}
	if got := ix.TakeFilterChanges(nil); !slices.Equal(got, want) {
		t.Fatalf("after subscribing: %v, want %v", got, want)
	}
	if got := ix.TakeFilterChanges(nil); got != nil {
		t.Fatalf("taken twice: %v", got)
	}

	ix.Unsubscribe(1, "a/#")          // 2 still holds it
	ix.Unsubscribe(1, "$share/g/a/#") // 2 still a member
	ix.Unsubscribe(3, "a/#")          // never subscribed
	if got := ix.TakeFilterChanges(nil); got != nil {
		t.Fatalf("a filter still held reported: %v", got)
	}
	ix.UnsubscribeAll(2)
	got := ix.TakeFilterChanges(nil)
	slices.SortFunc(got, func(a, b FilterChange) int { return strings.Compare(a.Filter, b.Filter) })
	want = []FilterChange{{"$share/g/a/#", false}, {"$share/h/a/#", false}, {"a/#", false}}
	if !slices.Equal(got, want) {
		t.Fatalf("after UnsubscribeAll: %v, want %v", got, want)
	}
	ix.Unsubscribe(1, "before/+")
	ix.Subscribe(4, "before/+", Options{})
	want = []FilterChange{{"before/+", false}, {"before/+", true}}
	if got := ix.TakeFilterChanges(nil); !slices.Equal(got, want) {
		t.Fatalf("gone and back: %v, want %v", got, want)
	}
}
