package smallmap

import (
	"fmt"
	"maps"
	"testing"
)

// A Map behaves as a Go map across its switch from slice to map: set,
// replace, delete, length, lookup and iteration agree with a reference map.
func TestMapAgainstGoMap(t *testing.T) {
	var m Map[int]
	ref := map[string]int{}
	check := func(when string) {
		t.Helper()
		agree(t, &m, ref, when)
	}
	for i := range 3 * Small {
		k := fmt.Sprint("k", i%(2*Small))
		m.Set(k, i)
		ref[k] = i
		check("after set " + k)
		if i%3 == 0 {
			d := fmt.Sprint("k", i/2)
			m.Delete(d)
			delete(ref, d)
			check("after delete " + d)
		}
	}
	m.Delete("absent")
	check("after deleting an absent key")
}

// A Map that grew into a map and shrinks back below half of Small returns
// to a slice and still agrees with a reference map all the way down, and
// it can grow again after.
func TestMapShrinks(t *testing.T) {
	var m Map[int]
	ref := map[string]int{}
	for round := range 2 {
		for i := range 2 * Small {
			k := fmt.Sprint("k", i)
			m.Set(k, i+round)
			ref[k] = i + round
		}
		if m.big == nil {
			t.Fatalf("round %d: %d entries still in a slice", round, m.Len())
		}
		for i := range 2 * Small {
			k := fmt.Sprint("k", i)
			m.Delete(k)
			delete(ref, k)
			agree(t, &m, ref, "after delete "+k)
			if n := m.Len(); n <= Small/2 && m.big != nil {
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
func agree(t *testing.T, m *Map[int], ref map[string]int, when string) {
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
