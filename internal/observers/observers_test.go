package observers

import (
	"slices"
	"testing"
)

// Callbacks see values in registration order until removed; removing twice
// is harmless and removes only its own callback, even for the same func.
func TestList(t *testing.T) {
	var l List[int]
	l.Notify(0) // none registered
	var got []int
	f := func(v int) { got = append(got, v) }
	r1 := l.Add(f)
	r2 := l.Add(func(v int) { got = append(got, -v) })
	r3 := l.Add(f)
	l.Notify(1)
	r1()
	r1()
	l.Notify(2)
	r2()
	r3()
	l.Notify(3)
	if want := []int{1, -1, 1, -2, 2}; !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}
