package observers

import (
	"slices"
	"sync"
	"sync/atomic"
)

// List holds the callbacks that observe values of type T. Its zero value
// is empty and ready; it is safe for concurrent use.
type List[T any] struct {
	mu  sync.Mutex                     // serializes changes to cur
	cur atomic.Pointer[[]*observer[T]] // loaded without mu by Notify
}

// observer is one registered callback; its address identifies it.
type observer[T any] struct{ fn func(T) }

func (l *List[T]) load() []*observer[T] {
	if p := l.cur.Load(); p != nil {
		return *p
	}
	return nil
}

// Add registers fn and returns the function that removes it (once, however
// often it is called).
func (l *List[T]) Add(fn func(T)) (remove func()) {
	o := &observer[T]{fn: fn}
	l.mu.Lock()
	next := append(slices.Clone(l.load()), o)
	l.cur.Store(&next)
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			cur := l.load()
			next := make([]*observer[T], 0, len(cur))
			for _, x := range cur {
				if x != o {
					next = append(next, x)
				}
			}
			l.cur.Store(&next)
			l.mu.Unlock()
		})
	}
}

// Notify calls the registered callbacks with v, in order of registration,
// on the caller's goroutine.
func (l *List[T]) Notify(v T) {
	p := l.cur.Load()
	if p == nil {
		return
	}
	for _, o := range *p {
		o.fn(v)
	}
}
