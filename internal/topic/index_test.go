package topic_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

// subKey identifies one reported non-shared subscription.
type subKey struct {
	sub    int
	filter string
}

func matchSet(ix *topic.Index[int], name string) (subs map[subKey]topic.Options, groups map[string][]int) {
	var m topic.Matches[int]
	ix.Match(name, &m)
	subs = make(map[subKey]topic.Options)
	for _, e := range m.Subs {
		subs[subKey{e.Sub, e.Filter}] = e.Options
	}
	groups = make(map[string][]int)
	for _, g := range m.Shared {
		var members []int
		for _, e := range g.Members() {
			members = append(members, e.Sub)
		}
		slices.Sort(members)
		groups[g.Filter()] = members
	}
	return subs, groups
}

func TestIndexMatchCases(t *testing.T) {
	for _, tc := range matchCases {
		if topic.ValidFilter(tc.filter) != nil || topic.ValidName(tc.name) != nil {
			continue
		}
		ix := topic.NewIndex[int]()
		if _, err := ix.Subscribe(1, tc.filter, topic.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.Subscribe(2, "$share/g/"+tc.filter, topic.Options{}); err != nil {
			t.Fatal(err)
		}
		subs, groups := matchSet(ix, tc.name)
		_, got := subs[subKey{1, tc.filter}]
		_, gotShared := groups["$share/g/"+tc.filter]
		if got != tc.want || gotShared != tc.want || len(subs)+len(groups) != 2*btoi(tc.want) {
			t.Errorf("filter %q, name %q: matched %v, shared %v (%v %v), want %v",
				tc.filter, tc.name, got, gotShared, subs, groups, tc.want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestIndexSubscribe(t *testing.T) {
	ix := topic.NewIndex[string]()
	existed, err := ix.Subscribe("s1", "a/+", topic.Options{QoS: 1, ID: 7})
	if existed || err != nil {
		t.Fatalf("first Subscribe = %v, %v", existed, err)
	}
	// [MQTT-3.8.4-3] an identical filter replaces the subscription.
	existed, err = ix.Subscribe("s1", "a/+", topic.Options{QoS: 2, NoLocal: true})
	if !existed || err != nil {
		t.Fatalf("second Subscribe = %v, %v", existed, err)
	}
	if ix.Len() != 1 {
		t.Fatalf("Len = %d after replacing, want 1", ix.Len())
	}
	var m topic.Matches[string]
	ix.Match("a/b", &m)
	want := []topic.Entry[string]{{Sub: "s1", Filter: "a/+", Options: topic.Options{QoS: 2, NoLocal: true}}}
	if !slices.Equal(m.Subs, want) {
		t.Fatalf("Match = %+v, want %+v", m.Subs, want)
	}

	// A shared subscription to the same filter is a distinct subscription.
	if existed, _ := ix.Subscribe("s1", "$share/g/a/+", topic.Options{QoS: 1}); existed {
		t.Fatal("shared subscription reported as existing")
	}
	if existed, _ := ix.Subscribe("s1", "$share/g/a/+", topic.Options{QoS: 0}); !existed {
		t.Fatal("repeated shared subscription not reported as existing")
	}
	if ix.Len() != 2 {
		t.Fatalf("Len = %d, want 2", ix.Len())
	}
	ix.Match("a/b", &m)
	if len(m.Subs) != 1 || len(m.Shared) != 1 {
		t.Fatalf("Match = %+v, want one of each", m)
	}
	g := m.Shared[0]
	if g.Name() != "g" || g.Filter() != "$share/g/a/+" {
		t.Errorf("group %q %q", g.Name(), g.Filter())
	}
	if ms := g.Members(); len(ms) != 1 || ms[0].Sub != "s1" || ms[0].QoS != 0 || ms[0].Filter != "$share/g/a/+" {
		t.Errorf("members %+v", ms)
	}

	for _, bad := range []string{"", "a/#/b", "$share/g", "$share//a", "a+"} {
		if _, err := ix.Subscribe("s1", bad, topic.Options{}); err == nil {
			t.Errorf("Subscribe(%q) succeeded", bad)
		}
	}
	if ix.Len() != 2 {
		t.Fatalf("Len = %d after invalid subscribes, want 2", ix.Len())
	}

	got := ix.Subscriptions("s1")
	slices.SortFunc(got, func(a, b topic.Entry[string]) int { return strings.Compare(a.Filter, b.Filter) })
	wantSubs := []topic.Entry[string]{
		{Sub: "s1", Filter: "$share/g/a/+", Options: topic.Options{QoS: 0}},
		{Sub: "s1", Filter: "a/+", Options: topic.Options{QoS: 2, NoLocal: true}},
	}
	if !slices.Equal(got, wantSubs) {
		t.Errorf("Subscriptions = %+v, want %+v", got, wantSubs)
	}
	if got := ix.Subscriptions("nobody"); got != nil {
		t.Errorf("Subscriptions(nobody) = %v", got)
	}

	if ix.Unsubscribe("s1", "a/#") || ix.Unsubscribe("s2", "a/+") || ix.Unsubscribe("s1", "$share/h/a/+") {
		t.Error("Unsubscribe of a missing subscription reported true")
	}
	if !ix.Unsubscribe("s1", "a/+") || ix.Unsubscribe("s1", "a/+") {
		t.Error("Unsubscribe(a/+) wrong")
	}
	ix.Match("a/b", &m)
	if len(m.Subs) != 0 || len(m.Shared) != 1 {
		t.Fatalf("after unsubscribe: %+v", m)
	}
	if !ix.Unsubscribe("s1", "$share/g/a/+") {
		t.Error("Unsubscribe($share/g/a/+) = false")
	}
	if len(g.Members()) != 0 {
		t.Error("group still has members after its last left")
	}
	if _, ok := g.Next(nil); ok {
		t.Error("Next on an empty group succeeded")
	}
	if ix.Len() != 0 || ix.Nodes() != 0 || ix.Owners() != 0 {
		t.Errorf("Len %d Nodes %d Owners %d, want 0", ix.Len(), ix.Nodes(), ix.Owners())
	}
}

// TestIndexMatchesRandom cross-checks Index.Match against Match on random
// subscriptions and names, with subscriptions added and removed as it goes.
func TestIndexMatchesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := topic.NewIndex[int]()
	type sub struct {
		id     int
		filter string
	}
	live := map[sub]topic.Options{}
	for round := range 40 {
		// Churn: add 100 subscriptions, remove about 50.
		for range 100 {
			s := sub{r.IntN(30), randFilter(r)}
			if r.IntN(4) == 0 {
				s.filter = fmt.Sprintf("$share/g%d/%s", r.IntN(3), s.filter)
			}
			o := topic.Options{QoS: byte(r.IntN(3)), ID: uint32(round)}
			_, had := live[s]
			existed, err := ix.Subscribe(s.id, s.filter, o)
			if err != nil || existed != had {
				t.Fatalf("Subscribe(%d, %q) = %v, %v; had %v", s.id, s.filter, existed, err, had)
			}
			live[s] = o
		}
		for s := range live {
			if r.IntN(2) == 0 {
				continue
			}
			if !ix.Unsubscribe(s.id, s.filter) {
				t.Fatalf("Unsubscribe(%d, %q) = false", s.id, s.filter)
			}
			delete(live, s)
		}
		if ix.Len() != len(live) {
			t.Fatalf("Len = %d, want %d", ix.Len(), len(live))
		}
		for range 200 {
			name := randName(r)
			subs, groups := matchSet(ix, name)
			wantSubs := map[subKey]topic.Options{}
			wantGroups := map[string][]int{}
			for s, o := range live {
				_, inner, shared, _ := topic.ParseShared(s.filter)
				if !topic.Match(inner, name) {
					continue
				}
				if shared {
					wantGroups[s.filter] = append(wantGroups[s.filter], s.id)
				} else {
					wantSubs[subKey{s.id, s.filter}] = o
				}
			}
			for _, ms := range wantGroups {
				slices.Sort(ms)
			}
			if !mapsEqual(subs, wantSubs) {
				t.Fatalf("name %q: subs %v, want %v", name, subs, wantSubs)
			}
			if len(groups) != len(wantGroups) {
				t.Fatalf("name %q: groups %v, want %v", name, groups, wantGroups)
			}
			for f, ms := range wantGroups {
				if !slices.Equal(groups[f], ms) {
					t.Fatalf("name %q: group %q has %v, want %v", name, f, groups[f], ms)
				}
			}
		}
	}
	// Remove the rest, half by UnsubscribeAll: the trie must be empty again.
	for s := range live {
		if s.id%2 == 0 {
			ix.UnsubscribeAll(s.id)
		} else if !ix.Unsubscribe(s.id, s.filter) {
			t.Fatalf("Unsubscribe(%d, %q) = false", s.id, s.filter)
		}
	}
	if ix.Len() != 0 || ix.Nodes() != 0 || ix.Owners() != 0 {
		t.Errorf("Len %d Nodes %d Owners %d, want 0", ix.Len(), ix.Nodes(), ix.Owners())
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestIndexPrune checks that churn does not leave nodes behind, including
// through the slice-to-map switch of wide nodes and the position maps of
// crowded filters.
func TestIndexPrune(t *testing.T) {
	ix := topic.NewIndex[int]()
	for cycle := range 3 {
		for i := range 1000 {
			for _, f := range []string{
				fmt.Sprintf("devices/%d/+/state", i),
				fmt.Sprintf("devices/%d/#", i),
				fmt.Sprintf("$share/g%d/+/%d/telemetry", i%5, i),
				"broadcast/all",
				"#",
			} {
				if _, err := ix.Subscribe(i, f, topic.Options{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if ix.Len() != 5000 {
			t.Fatalf("cycle %d: Len = %d, want 5000", cycle, ix.Len())
		}
		for i := range 1000 {
			if i%3 == 0 {
				ix.UnsubscribeAll(i)
				continue
			}
			for _, f := range ix.Subscriptions(i) {
				if !ix.Unsubscribe(i, f.Filter) {
					t.Fatalf("Unsubscribe(%d, %q) = false", i, f.Filter)
				}
			}
		}
		if ix.Len() != 0 || ix.Nodes() != 0 || ix.Owners() != 0 {
			t.Fatalf("cycle %d: Len %d Nodes %d Owners %d, want 0", cycle, ix.Len(), ix.Nodes(), ix.Owners())
		}
	}
}

// TestIndexManyFilters covers a subscriber with more filters than it keeps
// without a map, and a filter with more subscribers than a node keeps
// without one.
func TestIndexManyFilters(t *testing.T) {
	ix := topic.NewIndex[int]()
	for i := range 100 {
		ix.Subscribe(0, fmt.Sprintf("f/%d", i), topic.Options{QoS: 1})
		ix.Subscribe(i+1, "f/0", topic.Options{QoS: 2})
	}
	var m topic.Matches[int]
	ix.Match("f/0", &m)
	if len(m.Subs) != 101 {
		t.Fatalf("f/0 matched %d, want 101", len(m.Subs))
	}
	for i := 99; i >= 0; i -= 2 {
		if !ix.Unsubscribe(0, fmt.Sprintf("f/%d", i)) || !ix.Unsubscribe(i+1, "f/0") {
			t.Fatalf("Unsubscribe %d failed", i)
		}
		if existed, _ := ix.Subscribe(i+1, "f/0", topic.Options{}); existed {
			t.Fatalf("Subscribe %d after Unsubscribe reported existing", i+1)
		}
		ix.Unsubscribe(i+1, "f/0")
	}
	if got := len(ix.Subscriptions(0)); got != 50 {
		t.Fatalf("Subscriptions(0) has %d, want 50", got)
	}
	ix.Match("f/0", &m)
	if len(m.Subs) != 51 {
		t.Fatalf("f/0 matched %d, want 51", len(m.Subs))
	}
	for i := range 100 {
		ix.UnsubscribeAll(i)
	}
	if ix.Len() != 0 || ix.Nodes() != 0 {
		t.Fatalf("Len %d Nodes %d", ix.Len(), ix.Nodes())
	}
}

func TestIndexMatchAllocs(t *testing.T) {
	ix := topic.NewIndex[int]()
	for i := range 100 {
		ix.Subscribe(i, fmt.Sprintf("devices/%d/+/state", i), topic.Options{})
		ix.Subscribe(i, "devices/#", topic.Options{})
		ix.Subscribe(i, "$share/g/+/+/+/state", topic.Options{})
	}
	var m topic.Matches[int]
	ix.Match("devices/7/x/state", &m) // grow m
	if n := testing.AllocsPerRun(100, func() { ix.Match("devices/7/x/state", &m) }); n != 0 {
		t.Errorf("Match allocates %v times, want 0", n)
	}
	if len(m.Subs) != 101 || len(m.Shared) != 1 {
		t.Errorf("matched %d subs and %d groups, want 101 and 1", len(m.Subs), len(m.Shared))
	}
}

func TestGroupNext(t *testing.T) {
	const members = 5
	ix := topic.NewIndex[int]()
	for i := range members {
		ix.Subscribe(i, "$share/workers/jobs/+", topic.Options{QoS: byte(i % 3)})
	}
	var m topic.Matches[int]
	ix.Match("jobs/1", &m)
	if len(m.Shared) != 1 {
		t.Fatalf("matched %d groups, want 1", len(m.Shared))
	}
	g := m.Shared[0]

	t.Run("round robin", func(t *testing.T) {
		counts := make([]int, members)
		for range 100 * members {
			e, ok := g.Next(nil)
			if !ok {
				t.Fatal("Next failed")
			}
			if e.QoS != byte(e.Sub%3) || e.Filter != "$share/workers/jobs/+" {
				t.Fatalf("entry %+v", e)
			}
			counts[e.Sub]++
		}
		for i, c := range counts {
			if c != 100 {
				t.Errorf("member %d picked %d times, want 100: %v", i, c, counts)
			}
		}
	})
	t.Run("skip rejected", func(t *testing.T) {
		offline := map[int]bool{1: true, 2: true}
		counts := make([]int, members)
		for range 300 {
			e, ok := g.Next(func(s int) bool { return !offline[s] })
			if !ok {
				t.Fatal("Next failed")
			}
			counts[e.Sub]++
		}
		if want := []int{100, 0, 0, 100, 100}; !slices.Equal(counts, want) {
			t.Errorf("counts %v, want %v", counts, want)
		}
	})
	t.Run("all rejected", func(t *testing.T) {
		calls := 0
		if _, ok := g.Next(func(int) bool { calls++; return false }); ok {
			t.Error("Next succeeded with every member rejected")
		}
		if calls != members {
			t.Errorf("ok called %d times, want %d", calls, members)
		}
	})
	t.Run("membership changes", func(t *testing.T) {
		ix.Unsubscribe(0, "$share/workers/jobs/+")
		ix.Subscribe(9, "$share/workers/jobs/+", topic.Options{})
		seen := map[int]int{}
		for range 50 {
			e, _ := g.Next(nil)
			seen[e.Sub]++
		}
		if want := map[int]int{1: 10, 2: 10, 3: 10, 4: 10, 9: 10}; !mapsEqual(seen, want) {
			t.Errorf("picked %v, want %v", seen, want)
		}
	})
}

// TestIndexConcurrent runs matches, group picks and subscription changes at
// once; run it with -race. Each writer owns its subscribers, so it can check
// its own view of the Index as it goes.
func TestIndexConcurrent(t *testing.T) {
	ix := topic.NewIndex[int]()
	const writers, readers, rounds = 4, 4, 2000
	for i := range 10 {
		ix.Subscribe(1000+i, "$share/g/a/#", topic.Options{})
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range rounds {
				sub := w*100 + r.IntN(10)
				f := randFilter(r)
				if r.IntN(5) == 0 {
					f = "$share/g/" + f
				}
				switch i % 3 {
				case 0, 1:
					ix.Subscribe(sub, f, topic.Options{QoS: 1})
					found := false
					for _, e := range ix.Subscriptions(sub) {
						found = found || e.Filter == f
					}
					if !found {
						errs <- fmt.Errorf("writer %d: %q missing after Subscribe", w, f)
						return
					}
				default:
					ix.UnsubscribeAll(sub)
					if s := ix.Subscriptions(sub); s != nil {
						errs <- fmt.Errorf("writer %d: %v left after UnsubscribeAll", w, s)
						return
					}
				}
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(rd), 9))
			var m topic.Matches[int]
			for range rounds {
				name := randName(r)
				ix.Match(name, &m)
				for _, e := range m.Subs {
					if _, inner, _, _ := topic.ParseShared(e.Filter); !topic.Match(inner, name) {
						errs <- fmt.Errorf("%q matched %q", e.Filter, name)
						return
					}
				}
				for _, g := range m.Shared {
					g.Next(func(s int) bool { return s%2 == 0 })
				}
				ix.Match("a/b", &m)
				if len(m.Shared) == 0 {
					errs <- errors.New("group $share/g/a/# lost")
					return
				}
				_ = ix.Len()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		for s := range 10 {
			ix.UnsubscribeAll(w*100 + s)
		}
	}
	for i := range 10 {
		ix.UnsubscribeAll(1000 + i)
	}
	if ix.Len() != 0 || ix.Nodes() != 0 || ix.Owners() != 0 {
		t.Errorf("Len %d Nodes %d Owners %d, want 0", ix.Len(), ix.Nodes(), ix.Owners())
	}
}

func TestIndexGroup(t *testing.T) {
	ix := topic.NewIndex[string]()
	if _, err := ix.Subscribe("a", "$share/g/x/+", topic.Options{QoS: 1}); err != nil {
		t.Fatal(err)
	}
	g := ix.Group("$share/g/x/+")
	if g == nil || g.Name() != "g" || len(g.Members()) != 1 {
		t.Fatalf("Group = %+v", g)
	}
	for _, f := range []string{"$share/h/x/+", "x/+", "$share/g/x", "$share/g"} {
		if g := ix.Group(f); g != nil {
			t.Errorf("Group(%q) = %v, want nil", f, g.Filter())
		}
	}
}

// SubscribeGen counts new subscriptions, and Match stamps the generation
// it saw: a subscription with a generation up to the stamp was matched.
func TestSubscribeGenAndStamp(t *testing.T) {
	ix := topic.NewIndex[string]()
	var stamp uint64
	m := topic.Matches[string]{Stamp: &stamp}
	_, g1, err := ix.SubscribeGen("a", "t/+", topic.Options{})
	if err != nil || g1 != 1 {
		t.Fatalf("first subscription: generation %d, %v", g1, err)
	}
	ix.Match("t/x", &m)
	if atomic.LoadUint64(&stamp) != g1 || len(m.Subs) != 1 {
		t.Fatalf("stamp %d with %d matches, want %d and 1", atomic.LoadUint64(&stamp), len(m.Subs), g1)
	}
	if existed, g, _ := ix.SubscribeGen("a", "t/+", topic.Options{QoS: 1}); !existed || g != g1 {
		t.Errorf("a replaced subscription: existed %v, generation %d, want true and %d", existed, g, g1)
	}
	_, g2, _ := ix.SubscribeGen("b", "$share/g/t/#", topic.Options{})
	if g2 != g1+1 {
		t.Errorf("a shared subscription's generation %d, want %d", g2, g1+1)
	}
	if atomic.LoadUint64(&stamp) >= g2 {
		t.Errorf("the stamp %d claims the later subscription (%d) was matched", atomic.LoadUint64(&stamp), g2)
	}
	ix.Match("t/x", &m)
	if atomic.LoadUint64(&stamp) != g2 || len(m.Subs) != 1 || len(m.Shared) != 1 {
		t.Errorf("stamp %d, %d subs, %d groups; want %d, 1, 1", atomic.LoadUint64(&stamp), len(m.Subs), len(m.Shared), g2)
	}
	if _, _, err := ix.SubscribeGen("c", "t/#/x", topic.Options{}); err == nil {
		t.Error("an invalid filter was accepted")
	}
}
