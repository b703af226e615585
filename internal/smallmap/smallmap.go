package smallmap

// Small is the number of entries a Map keeps in a slice before it becomes
// a map.
const Small = 16

// Map maps strings to values of type V. Its zero value is empty and ready.
// It is not safe for concurrent use.
type Map[V any] struct {
	small []entry[V]
	big   map[string]V
}

type entry[V any] struct {
	key string
	v   V
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

// Delete removes key, if present.
func (m *Map[V]) Delete(key string) {
	if m.big != nil {
		delete(m.big, key)
		return
	}
	for i := range m.small {
		if m.small[i].key == key {
			m.small = append(m.small[:i], m.small[i+1:]...)
			if len(m.small) == 0 {
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

// All yields every entry, in no particular order.
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
