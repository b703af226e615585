package netpoll

import (
	"sync"
	"time"
)

// SlotLen is the granularity of a Wheel's deadlines: a parked connection
// may time out up to about two slots late, well within the half keep alive
// of grace the MQTT spec already gives [MQTT-3.1.2-22].
const SlotLen = 100 * time.Millisecond

// Entry is a value's place in a Wheel; its zero value is "not scheduled".
// The value holding it must not touch it: it is guarded by the Wheel's
// mutex.
type Entry struct {
	slot  int64 // by mono time / SlotLen, 0 if none
	index int32 // its index in the slot
}

// Item is what a Wheel schedules: a pointer-like value that holds its
// Entry.
type Item interface {
	comparable
	WheelEntry() *Entry
}

// Wheel holds deadlines in slots of SlotLen, so that a scheduled value
// costs a slice entry instead of a runtime timer of its own. A value is in
// at most one slot. One timer is armed for the earliest filled slot; when
// it fires, Fire is called for each value of the slots that have come.
type Wheel[T Item] struct {
	now  func() time.Duration // monotonic clock of the deadlines, > 0
	fire func(T)

	mu      sync.Mutex
	slots   map[int64][]T // guarded by mu
	armed   int64         // the slot the timer is set for, 0 if none; guarded by mu
	timer   *time.Timer   // guarded by mu
	stopped bool          // guarded by mu
}

// NewWheel returns a wheel whose deadlines are readings of now and which
// calls fire, on the timer's goroutine, for each value that is due.
func NewWheel[T Item](now func() time.Duration, fire func(T)) *Wheel[T] {
	return &Wheel[T]{now: now, fire: fire}
}

// Add schedules v to be due at time at, unless it is scheduled.
func (w *Wheel[T]) Add(v T, at time.Duration) {
	s := max(int64((at+SlotLen-1)/SlotLen), 1) // the first slot at or after at
	w.mu.Lock()
	defer w.mu.Unlock()
	e := v.WheelEntry()
	if e.slot != 0 {
		return
	}
	if w.slots == nil {
		w.slots = make(map[int64][]T)
	}
	e.slot, e.index = s, int32(len(w.slots[s]))
	w.slots[s] = append(w.slots[s], v)
	if w.armed == 0 || s < w.armed {
		w.armLocked(s)
	}
}

// armLocked sets the timer for slot s. w.mu must be held.
func (w *Wheel[T]) armLocked(s int64) {
	w.armed = s
	if w.stopped {
		return
	}
	wait := time.Duration(s)*SlotLen - w.now()
	if w.timer == nil {
		w.timer = time.AfterFunc(wait, w.fireDue)
	} else {
		w.timer.Reset(wait)
	}
}

// Remove unschedules v if it is scheduled. The timer stays armed: firing
// early finds nothing due.
func (w *Wheel[T]) Remove(v T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := v.WheelEntry()
	if e.slot == 0 {
		return
	}
	slot := w.slots[e.slot]
	last := len(slot) - 1
	if i := e.index; int(i) != last {
		slot[i] = slot[last]
		slot[i].WheelEntry().index = i
	}
	var zero T
	slot[last] = zero
	if last == 0 {
		delete(w.slots, e.slot)
	} else {
		w.slots[e.slot] = slot[:last]
	}
	e.slot = 0
}

// Due unschedules and returns the values whose deadline is at or before
// time now, and arms the timer for the earliest slot left.
func (w *Wheel[T]) Due(now time.Duration) []T {
	end := int64(now / SlotLen)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []T
	first := int64(0)
	for s, slot := range w.slots {
		if s > end {
			if first == 0 || s < first {
				first = s
			}
			continue
		}
		for _, v := range slot {
			v.WheelEntry().slot = 0
			out = append(out, v)
		}
		delete(w.slots, s)
	}
	w.armed = 0
	if first != 0 {
		w.armLocked(first)
	}
	return out
}

// fireDue calls fire for the values that are due.
func (w *Wheel[T]) fireDue() {
	for _, v := range w.Due(w.now()) {
		w.fire(v)
	}
}

// Stop stops the timer for good.
func (w *Wheel[T]) Stop() {
	w.mu.Lock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
}
