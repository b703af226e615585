package smallmap

// Limit is the most entries a Map keeps in a slice before it becomes a
// map. It is a type parameter rather than a field so that it costs no
// space in each Map; ForLookups and ForMemory are the limits there are.
type Limit interface{ entries() int }

// ForLookups keeps up to 8 entries in a slice: for maps read on a hot path
// (a topic trie node's children, looked up for every level of every
// PUBLISH). Past about 8 short keys a linear search is slower than hashing.
type ForLookups struct{}

func (ForLookups) entries() int { return 8 }

// ForMemory keeps up to 16 entries in a slice: for maps mostly written and
// walked (a session's subscriptions), where a slice of 9 to 16 entries
// takes about 40% less memory and fewer allocations than a map.
type ForMemory struct{}

func (ForMemory) entries() int { return 16 }

// Map maps strings to values of type V, in a slice while it holds at most
// L's number of entries and in a map past it. Its zero value is empty and
// ready. It is not safe for concurrent use.
type Map[V any, L Limit] struct {
	small []entry[V] // used while big is nil
	big   map[string]V
}

type entry[V any] struct {
	key string
	v   V
}

// Get returns the value of key; ok is false if key is absent.
func (m *Map[V, L]) Get(key string) (v V, ok bool) {
	if m.big != nil {
		v, ok = m.big[key]
		return v, ok
	}
	for i := range m.small {
		if m.small[i].key == key {
			return m.small[i].v, true
		}
	}
	return v, false
}

// Set adds or replaces the value of key.
func (m *Map[V, L]) Set(key string, v V) {
	if m.big != nil {
		m.big[key] = v
		return
	}
	for i := range m.small {
		if m.small[i].key == key {
			m.small[i].v = v
			return
		}
	}
	var l L
	if len(m.small) < l.entries() {
		m.small = append(m.small, entry[V]{key, v})
		return
	}
	m.big = make(map[string]V, 2*l.entries())
	for _, e := range m.small {
		m.big[e.key] = e.v
	}
	m.big[key] = v
	m.small = nil
}

// Delete removes key, if present. A Map that shrinks to half of its limit
// goes back to a slice: not at the limit itself, so that churn around it
// does not rebuild the map every time.
func (m *Map[V, L]) Delete(key string) {
	if m.big != nil {
		delete(m.big, key)
		var l L
		if len(m.big) <= l.entries()/2 {
			small := make([]entry[V], 0, l.entries())
			for k, v := range m.big {
				small = append(small, entry[V]{k, v})
			}
			m.small, m.big = small, nil
		}
		return
	}
	for i := range m.small {
		if m.small[i].key == key {
			last := len(m.small) - 1
			m.small[i] = m.small[last]
			m.small[last] = entry[V]{} // drop the references it held
			m.small = m.small[:last]
			if last == 0 {
				m.small = nil
			}
			return
		}
	}
}

// Len returns the number of entries.
func (m *Map[V, L]) Len() int {
	if m.big != nil {
		return len(m.big)
	}
	return len(m.small)
}

// All yields every entry, in no particular order. A method value m.All is
// an iter.Seq2[string, V].
func (m *Map[V, L]) All(yield func(key string, v V) bool) {
	if m.big != nil {
		for k, v := range m.big {
			if !yield(k, v) {
				return
			}
		}
		return
	}
	for _, e := range m.small {
		if !yield(e.key, e.v) {
			return
		}
	}
}
