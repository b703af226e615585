package netpoll

import (
	"slices"
	"testing"
	"time"
)

type item struct {
	id int32
	e  Entry
}

func (it *item) WheelEntry() *Entry { return &it.e }

// The deadline schedule keeps each value in one slot, removes it exactly
// (also from the middle of a slot), and hands out those due in order of
// slot, never early.
func TestWheel(t *testing.T) {
	start := time.Now()
	d := NewWheel(func() time.Duration { return max(time.Since(start), 1) }, func(*item) {})
	d.Stop() // no timer: Due is driven by hand
	cs := make([]*item, 6)
	for i := range cs {
		cs[i] = &item{id: int32(i)}
	}
	at := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	d.Add(cs[0], at(1000))
	d.Add(cs[1], at(1000))
	d.Add(cs[2], at(1050)) // rounds up to the 1100 ms slot, after the 1000 ms one
	d.Add(cs[3], at(250))
	d.Add(cs[4], at(5000))
	d.Add(cs[5], at(1000))
	d.Add(cs[5], at(9000)) // already scheduled: ignored
	if d.armed != 3 {
		t.Errorf("timer armed for slot %d, want 3: the earliest, though added after later ones", d.armed)
	}

	d.Remove(cs[0]) // from the middle of its slot
	d.Remove(cs[0]) // twice is harmless
	if cs[0].e.slot != 0 {
		t.Fatal("removed value still has a slot")
	}
	ids := func(got []*item) []int32 {
		var out []int32
		for _, c := range got {
			out = append(out, c.id)
		}
		slices.Sort(out)
		return out
	}
	if got := d.Due(at(200)); len(got) != 0 {
		t.Errorf("due at 200 ms: %v, want none", ids(got))
	}
	if got := ids(d.Due(at(300))); !slices.Equal(got, []int32{3}) {
		t.Errorf("due at 300 ms: %v, want [3]", got)
	}
	if got := ids(d.Due(at(999))); len(got) != 0 {
		t.Errorf("due at 999 ms: %v, want none (never early)", got)
	}
	if d.armed != 10 {
		t.Errorf("after 300 ms, timer armed for slot %d, want 10", d.armed)
	}
	if got := ids(d.Due(at(1000))); !slices.Equal(got, []int32{1, 5}) {
		t.Errorf("due at 1000 ms: %v, want [1 5]", got)
	}
	if got := ids(d.Due(at(1100))); !slices.Equal(got, []int32{2}) {
		t.Errorf("due at 1100 ms: %v, want [2]", got)
	}
	d.Add(cs[0], at(3000)) // scheduled again after removal
	if got := ids(d.Due(at(6000))); !slices.Equal(got, []int32{0, 4}) {
		t.Errorf("due at 6000 ms: %v, want [0 4]", got)
	}
	if len(d.slots) != 0 || d.armed != 0 {
		t.Errorf("%d slots left", len(d.slots))
	}
}
