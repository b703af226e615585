package window

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the reference: values in order of addition.
type model struct {
	ids  []uint16
	vals []int
}

func (m *model) remove(id uint16) bool {
	i := slices.Index(m.ids, id)
	if i < 0 {
		return false
	}
	m.ids = slices.Delete(m.ids, i, i+1)
	m.vals = slices.Delete(m.vals, i, i+1)
	return true
}

func check(t *testing.T, tb *Table[int], m *model) {
	t.Helper()
	if tb.Len() != len(m.ids) {
		t.Fatalf("Len = %d, want %d", tb.Len(), len(m.ids))
	}
	var ids []uint16
	var vals []int
	tb.All(func(id uint16, v *int) bool {
		ids, vals = append(ids, id), append(vals, *v)
		return true
	})
	if !slices.Equal(ids, m.ids) || !slices.Equal(vals, m.vals) {
		t.Fatalf("All = %v %v, want %v %v", ids, vals, m.ids, m.vals)
	}
	for i, id := range m.ids {
		if v := tb.Get(id); v == nil || *v != m.vals[i] {
			t.Fatalf("Get(%d) = %v, want %d", id, v, m.vals[i])
		}
	}
}

// TestTableAgainstModel runs random additions and removals, in and out of
// order, through windows small (scanned) and large (mapped).
func TestTableAgainstModel(t *testing.T) {
	for _, window := range []int{1, 3, 20, 200} {
		rng := rand.New(rand.NewPCG(1, uint64(window)))
		var tb Table[int]
		var m model
		next := uint16(0)
		for step := range 20000 {
			if len(m.ids) < window && rng.IntN(2) == 0 {
				next++
				if next == 0 {
					next = 1
				}
				if p := tb.Add(next, step); *p != step {
					t.Fatalf("Add returned %d", *p)
				}
				m.ids, m.vals = append(m.ids, next), append(m.vals, step)
			} else if len(m.ids) > 0 {
				i := 0
				if rng.IntN(4) == 0 { // out of order
					i = rng.IntN(len(m.ids))
				}
				id := m.ids[i]
				if !tb.Remove(id) || !m.remove(id) {
					t.Fatalf("Remove(%d) failed", id)
				}
				if tb.Remove(id) || tb.Get(id) != nil {
					t.Fatalf("%d still held after Remove", id)
				}
			}
			if step%97 == 0 {
				check(t, &tb, &m)
			}
		}
		check(t, &tb, &m)
	}
}

// TestTableRemoveWhileIterating removes values from inside All, as the
// broker does for messages a client may no longer read.
func TestTableRemoveWhileIterating(t *testing.T) {
	var tb Table[int]
	var m model
	for i := range 100 {
		tb.Add(uint16(i+1), i)
		m.ids, m.vals = append(m.ids, uint16(i+1)), append(m.vals, i)
	}
	var seen []int
	tb.All(func(id uint16, v *int) bool {
		seen = append(seen, *v)
		if *v%3 != 1 {
			tb.Remove(id)
			m.remove(id)
		}
		return true
	})
	if len(seen) != 100 {
		t.Fatalf("All visited %d values, want 100", len(seen))
	}
	check(t, &tb, &m)
}

// TestTableOldestHeld keeps the oldest value unacknowledged while the
// others come and go: the ring must not grow without bound.
func TestTableOldestHeld(t *testing.T) {
	var tb Table[int]
	tb.Add(1, 0)
	for i := range 100000 {
		id := uint16(2 + i%1000)
		tb.Add(id, i)
		tb.Remove(id)
	}
	if len(tb.ring) > 8 {
		t.Fatalf("ring grew to %d slots for 2 values", len(tb.ring))
	}
	if v := tb.Get(1); v == nil || *v != 0 {
		t.Fatalf("oldest value lost: %v", v)
	}
}

// TestTableSteadyStateAllocatesNothing: a window's messages sent and
// acknowledged again and again reuse the ring.
func TestTableSteadyStateAllocatesNothing(t *testing.T) {
	for _, window := range []int{20, 500} {
		var tb Table[[10]uint64]
		id := uint16(0)
		round := func() {
			for range window {
				id++
				tb.Add(id, [10]uint64{})
			}
			for i := range window {
				tb.Remove(id - uint16(window) + uint16(i) + 1)
			}
		}
		round()
		tb.Add(60000, [10]uint64{}) // keeps the ring from being given back
		round()
		if n := testing.AllocsPerRun(100, round); n != 0 {
			t.Errorf("window %d: %v allocations per round, want 0", window, n)
		}
	}
}

// TestTableCompactsInPlace fills the ring behind a held oldest value, as
// a client that acknowledges everything but its oldest message does, so
// that adding compacts the ring: in scan mode (20) and in map mode (200).
func TestTableCompactsInPlace(t *testing.T) {
	for _, window := range []int{20, 200} {
		var tb Table[int]
		var m model
		add := func(id uint16, v int) {
			tb.Add(id, v)
			m.ids, m.vals = append(m.ids, id), append(m.vals, v)
		}
		for i := range window {
			add(uint16(i+1), i)
		}
		size := len(tb.ring)
		for i := window; i >= 2; i-- {
			tb.Remove(uint16(i))
			m.remove(uint16(i))
		}
		for i := range size - window + size/4 { // fills the ring, then compacts it
			add(uint16(1000+i), 1000+i)
		}
		if len(tb.ring) != size {
			t.Errorf("window %d: ring grew from %d to %d slots instead of compacting", window, size, len(tb.ring))
		}
		check(t, &tb, &m)
	}
}
