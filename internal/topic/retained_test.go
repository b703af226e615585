package topic_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

func retainedMatch(r *topic.Retained[int], filter string) map[string]int {
	got := map[string]int{}
	r.Match(filter, func(name string, v int) bool {
		if _, dup := got[name]; dup {
			got[name] = -1
		} else {
			got[name] = v
		}
		return true
	})
	return got
}

func TestRetainedMatchCases(t *testing.T) {
	for _, tc := range matchCases {
		if topic.ValidFilter(tc.filter) != nil || topic.ValidName(tc.name) != nil {
			continue
		}
		var r topic.Retained[int]
		r.Set(tc.name, 1)
		got := retainedMatch(&r, tc.filter)
		if (len(got) == 1) != tc.want {
			t.Errorf("filter %q, name %q: got %v, want match %v", tc.filter, tc.name, got, tc.want)
		}
	}
}

func TestRetained(t *testing.T) {
	var r topic.Retained[string]
	if _, ok := r.Get("a"); ok || r.Len() != 0 {
		t.Fatal("zero Retained not empty")
	}
	r.Set("a/b", "1")
	r.Set("a/b", "2")
	r.Set("a", "3")
	r.Set("", "ignored")
	if v, ok := r.Get("a/b"); !ok || v != "2" {
		t.Errorf("Get(a/b) = %q, %v", v, ok)
	}
	if _, ok := r.Get("a/c"); ok {
		t.Error("Get(a/c) found")
	}
	if _, ok := r.Get(""); ok {
		t.Error("Get(\"\") found")
	}
	if r.Len() != 2 {
		t.Errorf("Len = %d, want 2", r.Len())
	}
	if r.Delete("a/b/c") || r.Delete("x") || r.Delete("") {
		t.Error("Delete of a missing name reported true")
	}
	if !r.Delete("a") {
		t.Error("Delete(a) = false")
	}
	if v, ok := r.Get("a/b"); !ok || v != "2" {
		t.Errorf("Get(a/b) after deleting parent = %q, %v", v, ok)
	}
	if !r.Delete("a/b") || r.Len() != 0 || r.Nodes() != 0 {
		t.Errorf("after deleting all: Len %d Nodes %d", r.Len(), r.Nodes())
	}
}

func TestRetainedCallbackMayWrite(t *testing.T) {
	var r topic.Retained[int]
	for i := range 10 {
		r.Set(fmt.Sprintf("x/%d", i), i)
	}
	n := 0
	r.Match("x/+", func(name string, v int) bool {
		r.Delete(name) // must not deadlock
		n++
		return n < 5
	})
	if n != 5 || r.Len() != 5 {
		t.Errorf("visited %d, %d left; want 5 and 5", n, r.Len())
	}
	r.Range(func(name string, v int) bool {
		r.Set(name+"/more", v)
		return true
	})
	if r.Len() != 10 {
		t.Errorf("Len = %d after Range, want 10", r.Len())
	}
}

// TestRetainedRandom cross-checks Retained.Match against Match on random
// names and filters, with deletions along the way.
func TestRetainedRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var r topic.Retained[int]
	live := map[string]int{}
	for round := range 30 {
		for i := range 200 {
			name := randName(rnd)
			r.Set(name, round*1000+i)
			live[name] = round*1000 + i
		}
		for name := range live {
			if rnd.IntN(3) == 0 {
				if !r.Delete(name) {
					t.Fatalf("Delete(%q) = false", name)
				}
				delete(live, name)
			}
		}
		if r.Len() != len(live) {
			t.Fatalf("Len = %d, want %d", r.Len(), len(live))
		}
		for range 100 {
			filter := randFilter(rnd)
			got := retainedMatch(&r, filter)
			want := map[string]int{}
			for name, v := range live {
				if topic.Match(filter, name) {
					want[name] = v
				}
			}
			if !mapsEqual(got, want) {
				t.Fatalf("filter %q: got %v, want %v", filter, got, want)
			}
		}
		all := map[string]int{}
		r.Range(func(name string, v int) bool { all[name] = v; return true })
		if !mapsEqual(all, live) {
			t.Fatalf("Range = %v, want %v", all, live)
		}
	}
	for name := range live {
		r.Delete(name)
	}
	if r.Len() != 0 || r.Nodes() != 0 {
		t.Errorf("Len %d Nodes %d, want 0", r.Len(), r.Nodes())
	}
}

func TestRetainedConcurrent(t *testing.T) {
	var r topic.Retained[int]
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 2000 {
				name := fmt.Sprintf("w%d/%s", w, randName(rnd))
				if i%3 == 2 {
					r.Delete(name)
				} else {
					r.Set(name, i)
				}
			}
		})
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 2))
			for range 2000 {
				f := randFilter(rnd)
				r.Match(f, func(name string, _ int) bool {
					if !topic.Match(f, name) {
						t.Errorf("%q returned %q", f, name)
					}
					return true
				})
				r.Get(randName(rnd))
			}
		})
	}
	wg.Wait()
	var names []string
	r.Range(func(name string, _ int) bool { names = append(names, name); return true })
	if len(names) != r.Len() {
		t.Errorf("Range saw %d names, Len = %d", len(names), r.Len())
	}
	for _, n := range names {
		r.Delete(n)
	}
	if r.Len() != 0 || r.Nodes() != 0 {
		t.Errorf("Len %d Nodes %d, want 0", r.Len(), r.Nodes())
	}
}

// DeleteFunc removes exactly the values its condition selects and counts
// them.
func TestRetainedDeleteFunc(t *testing.T) {
	var r topic.Retained[int]
	for i, name := range []string{"a", "a/b", "c", "$SYS/x"} {
		r.Set(name, i)
	}
	if n := r.DeleteFunc(func(v int) bool { return v%2 == 1 }); n != 2 {
		t.Errorf("DeleteFunc removed %d, want 2", n)
	}
	got := map[string]int{}
	r.Range(func(name string, v int) bool { got[name] = v; return true })
	if len(got) != 2 || got["a"] != 0 || got["c"] != 2 {
		t.Errorf("left %v, want a=0 c=2", got)
	}
}
