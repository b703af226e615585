package smallmap

import (
	"fmt"
	"maps"
	"testing"
)

// A Map behaves as a Go map across its switch from slice to map: set,
// replace, delete, length and iteration agree with a reference map.
func TestMapAgainstGoMap(t *testing.T) {
	var m Map[int]
	ref := map[string]int{}
	check := func(when string) {
		t.Helper()
		if m.Len() != len(ref) {
			t.Fatalf("%s: Len %d, want %d", when, m.Len(), len(ref))
		}
		if got := maps.Collect(m.All); !maps.Equal(got, ref) {
			t.Fatalf("%s: All gives %v, want %v", when, got, ref)
		}
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
