package cowmap

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Map maps strings to values of type V. Its zero value is empty and
// ready. It is safe for concurrent use.
type Map[V any] struct {
	mu  sync.Mutex                   // serializes changes to cur
	cur atomic.Pointer[map[string]V] // readers load it without mu
}

// Get returns the value of key.
func (m *Map[V]) Get(key string) (V, bool) {
	if cur := m.cur.Load(); cur != nil {
		v, ok := (*cur)[key]
		return v, ok
	}
	var zero V
	return zero, false
}

// Add sets the value of key unless it has one; it reports whether it did.
func (m *Map[V]) Add(key string, v V) bool {
	return m.change(func(next map[string]V) bool {
		if _, taken := next[key]; taken {
			return false
		}
		next[key] = v
		return true
	})
}

// Delete removes key, if present.
func (m *Map[V]) Delete(key string) {
	m.change(func(next map[string]V) bool { delete(next, key); return true })
}

// change applies f to a copy of the map and publishes the copy if f
// returns true.
func (m *Map[V]) change(f func(next map[string]V) bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[string]V{}
	if cur := m.cur.Load(); cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	if !f(next) {
		return false
	}
	m.cur.Store(&next)
	return true
}

// Keys returns the keys, sorted.
func (m *Map[V]) Keys() []string {
	var out []string
	if cur := m.cur.Load(); cur != nil {
		for k := range *cur {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
