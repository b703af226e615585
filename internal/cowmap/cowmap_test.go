package cowmap

import (
	"slices"
	"testing"
)

// Add does not replace, Delete removes, Keys are sorted, and a reader's
// view does not change under it.
func TestMap(t *testing.T) {
	var m Map[int]
	if _, ok := m.Get("a"); ok {
		t.Fatal("empty map has a")
	}
	if !m.Add("b", 2) || !m.Add("a", 1) {
		t.Fatal("Add of a new key failed")
	}
	if m.Add("a", 9) {
		t.Error("Add replaced a taken key")
	}
	if v, _ := m.Get("a"); v != 1 {
		t.Errorf("a = %d, want 1", v)
	}
	before := m.cur.Load()
	m.Delete("a")
	if _, ok := (*before)["a"]; !ok {
		t.Error("Delete changed a published map")
	}
	if got := m.Keys(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Keys = %v, want [b]", got)
	}
}
