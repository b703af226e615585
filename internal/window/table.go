package window

// smallTable is the ring size up to which identifiers are found by a scan
// instead of a map: a Go map of a few entries costs more memory than the
// scan costs time.
const smallTable = 64

// keepEmpty is the ring size an empty table keeps for the next messages;
// a larger one (a burst's) is given back.
const keepEmpty = 32

// Table holds values of type T under packet identifiers, in the order they
// were added. The zero Table is empty and ready, and costs one pointer
// until a value is added (a session that sends no QoS 1 or 2 message
// never grows). It is not safe for concurrent use: its owner locks it (the
// broker: the session's mutex).
type Table[T any] struct{ *table[T] }

type table[T any] struct {
	ring []slot[T]
	head int    // ring index of the oldest slot in use
	n    int    // slots in use from head, live or removed
	base uint64 // position of ring[head]; positions only grow
	live int
	byID map[uint16]uint64 // position by identifier, when the ring is large
}

type slot[T any] struct {
	v    T
	id   uint16
	live bool
}

// Len returns the number of values held.
func (t *Table[T]) Len() int {
	if t.table == nil {
		return 0
	}
	return t.live
}

func (t *table[T]) at(pos uint64) *slot[T] {
	return &t.ring[(t.head+int(pos-t.base))%len(t.ring)]
}

// find returns the position of id.
func (t *table[T]) find(id uint16) (uint64, bool) {
	if t == nil {
		return 0, false
	}
	if t.byID != nil {
		pos, ok := t.byID[id]
		return pos, ok
	}
	for pos := t.base; pos < t.base+uint64(t.n); pos++ {
		if s := t.at(pos); s.live && s.id == id {
			return pos, true
		}
	}
	return 0, false
}

// Get returns the value held under id, nil if none. The pointer is valid
// until the next Add, Remove of id, or Reset.
func (t *Table[T]) Get(id uint16) *T {
	if pos, ok := t.find(id); ok {
		return &t.at(pos).v
	}
	return nil
}

// Add holds v under id, which must not be held already, after every value
// held, and returns where it is (valid as for Get).
func (t *Table[T]) Add(id uint16, v T) *T {
	if t.table == nil {
		t.table = new(table[T])
	}
	if t.n == len(t.ring) {
		t.resize()
	}
	pos := t.base + uint64(t.n)
	t.n++
	s := t.at(pos)
	*s = slot[T]{v: v, id: id, live: true}
	t.live++
	if t.byID != nil {
		t.byID[id] = pos
	}
	return &s.v
}

// resize makes room in a full ring: it drops the removed slots in place
// if they are at least half of it (acknowledgements out of order leave
// them behind the oldest value), else it doubles the ring.
func (t *table[T]) resize() {
	size := len(t.ring)
	if size > 0 && t.live*2 <= size {
		w := 0
		for k := range t.n {
			if s := &t.ring[(t.head+k)%size]; s.live {
				t.ring[(t.head+w)%size] = *s
				if t.byID != nil {
					t.byID[s.id] = t.base + uint64(w)
				}
				w++
			}
		}
		for k := w; k < t.n; k++ {
			t.ring[(t.head+k)%size] = slot[T]{}
		}
		t.n = w
		return
	}
	ring := make([]slot[T], max(4, 2*size))
	for k := range t.n {
		ring[k] = t.ring[(t.head+k)%size]
	}
	t.ring, t.head = ring, 0
	if len(ring) > smallTable && t.byID == nil {
		t.byID = make(map[uint16]uint64, len(ring))
		for k := range t.n {
			t.byID[ring[k].id] = t.base + uint64(k)
		}
	}
}

// Remove forgets the value held under id and reports whether there was one.
func (t *Table[T]) Remove(id uint16) bool {
	pos, ok := t.find(id)
	if !ok {
		return false
	}
	*t.at(pos) = slot[T]{}
	t.live--
	if t.byID != nil {
		delete(t.byID, id)
	}
	for t.n > 0 && !t.ring[t.head].live {
		t.head = (t.head + 1) % len(t.ring)
		t.n--
		t.base++
	}
	if t.n == 0 {
		t.head = 0
		if len(t.ring) > keepEmpty {
			t.ring, t.byID = nil, nil
		}
	}
	return true
}

// All calls yield for each value held, oldest first, until it returns
// false. yield may Remove values (the one it is given included), not Add.
func (t *Table[T]) All(yield func(id uint16, v *T) bool) {
	if t.table == nil {
		return
	}
	for pos := t.base; ; pos++ {
		pos = max(pos, t.base) // yield removed the oldest values
		if pos >= t.base+uint64(t.n) {
			return
		}
		if s := t.at(pos); s.live && !yield(s.id, &s.v) {
			return
		}
	}
}

// Reset forgets every value and gives back the memory.
func (t *Table[T]) Reset() { *t = Table[T]{} }
