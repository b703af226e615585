package smallmap

import (
	"fmt"
	"maps"
	"testing"
)

// TestMap checks a Map with each limit.
func TestMap(t *testing.T) {
	t.Run("ForLookups", testMap[ForLookups])
	t.Run("ForMemory", testMap[ForMemory])
}

func testMap[L Limit](t *testing.T) {
	t.Run("AgainstGoMap", againstGoMap[L])
	t.Run("Shrinks", shrinks[L])
}

// A Map behaves as a Go map across its switch from slice to map: set,
// replace, delete, length, lookup and iteration agree with a reference map.
func againstGoMap[L Limit](t *testing.T) {
	var m Map[int, L]
	ref := map[string]int{}
	small := (*new(L)).entries()
	for i := range 3 * small {
		k := fmt.Sprint("k", i%(2*small))
		m.Set(k, i)
		ref[k] = i
		agree(t, &m, ref, "after set "+k)
		if i%3 == 0 {
			d := fmt.Sprint("k", i/2)
			m.Delete(d)
			delete(ref, d)
			agree(t, &m, ref, "after delete "+d)
		}
	}
	m.Delete("absent")
	agree(t, &m, ref, "after deleting an absent key")
}

// A Map turns into a map past its limit and no sooner; once it shrinks
// to half its limit it returns to a slice, still agreeing with a reference
// map all the way down, and it can grow again after.
func shrinks[L Limit](t *testing.T) {
	var m Map[int, L]
	ref := map[string]int{}
	small := (*new(L)).entries()
	for round := range 2 {
		for i := range 2 * small {
			k := fmt.Sprint("k", i)
			m.Set(k, i+round)
			ref[k] = i + round
			if big := m.big != nil; big != (m.Len() > small) {
				t.Fatalf("round %d: %d entries, limit %d, in a map: %v", round, m.Len(), small, big)
			}
		}
		for i := range 2 * small {
			k := fmt.Sprint("k", i)
			m.Delete(k)
			delete(ref, k)
			agree(t, &m, ref, "after delete "+k)
			if n := m.Len(); n <= small/2 && m.big != nil {
				t.Fatalf("round %d: %d entries still in a map", round, n)
			}
		}
		if m.small != nil {
			t.Fatalf("round %d: empty Map keeps a slice of capacity %d", round, cap(m.small))
		}
	}
}

// agree fails the test unless m holds what ref holds, as Len, All and Get
// see it.
func agree[L Limit](t *testing.T, m *Map[int, L], ref map[string]int, when string) {
	t.Helper()
	if m.Len() != len(ref) {
		t.Fatalf("%s: Len %d, want %d", when, m.Len(), len(ref))
	}
	if got := maps.Collect(m.All); !maps.Equal(got, ref) {
		t.Fatalf("%s: All gives %v, want %v", when, got, ref)
	}
	for k, want := range ref {
		if v, ok := m.Get(k); !ok || v != want {
			t.Fatalf("%s: Get(%q) = %d, %v, want %d, true", when, k, v, ok, want)
		}
	}
	if v, ok := m.Get("absent"); ok {
		t.Fatalf("%s: Get(absent) = %d, true", when, v)
	}
}
