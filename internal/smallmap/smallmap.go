package smallmap

// Small is the number of entries a Map keeps in a slice before it becomes
// a map. Searching a slice this short is as fast as hashing the key, and a
// slice costs far less memory than a map.
const Small = 16

// Map maps strings to values of type V. Its zero value is empty and ready.
// It is not safe for concurrent use.
type Map[V any] struct {
	small []entry[V] // used while big is nil
	big   map[string]V
}

type entry[V any] struct {
	key string
	v   V
}

// Get returns the value of key; ok is false if key is absent.
func (m *Map[V]) Get(key string) (v V, ok bool) {
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
func (m *Map[V]) Set(key string, v V) {
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
	if len(m.small) < Small {
		m.small = append(m.small, entry[V]{key, v})
		return
	}
	m.big = make(map[string]V, 2*Small)
	for _, e := range m.small {
		m.big[e.key] = e.v
	}
	m.big[key] = v
	m.small = nil
}

// Delete removes key, if present. A Map that shrinks to half of Small
// entries goes back to a slice: not at Small itself, so that churn around
// the threshold does not rebuild the map every time.
func (m *Map[V]) Delete(key string) {
	if m.big != nil {
		delete(m.big, key)
		if len(m.big) <= Small/2 {
			small := make([]entry[V], 0, Small)
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
func (m *Map[V]) Len() int {
	if m.big != nil {
		return len(m.big)
	}
	return len(m.small)
}

// All yields every entry, in no particular order. A method value m.All is
// an iter.Seq2[string, V].
func (m *Map[V]) All(yield func(key string, v V) bool) {
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
