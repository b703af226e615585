package topic

import (
	"strings"
	"sync"

	"github.com/midge-mqtt/midge/internal/smallmap"
)

// Retained is the index of retained messages: at most one value per topic
// name, found by name or by topic filter. V is the broker's message type.
//
// The zero Retained is empty and ready to use; a Retained must not be copied
// after first use. A Retained is safe for concurrent use; lookups share a
// read lock. Match and Range take a snapshot of what they visit and call
// their callback after releasing the lock, so a callback may call any method
// of the Retained, and may take its time.
type Retained[V any] struct {
	mu    sync.RWMutex
	root  rnode[V]  // guarded by mu
	count int       // guarded by mu
	bufs  sync.Pool // of *[]item[V], for Match and Range snapshots
}

// rnode is one level of the retained trie.
type rnode[V any] struct {
	kids smallmap.Map[*rnode[V], smallmap.ForLookups]
	name string // the full topic name, while the node has a value
	has  bool
	val  V
}

// item is one entry of a snapshot.
type item[V any] struct {
	name string
	val  V
}

// maxPooled bounds the snapshot buffers kept for reuse, in items. Without
// reuse a wide match allocates its snapshot anew and the garbage collector
// then rescans the trie; the pool still releases idle buffers at GC.
const maxPooled = 1 << 16

// Set stores v as the retained message of the topic name, replacing any
// previous one. name should be a valid topic name (see ValidName); Set does
// not validate it, and ignores an empty name. The Retained keeps its own copy
// of name.
func (r *Retained[V]) Set(name string, v V) {
	if name == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := &r.root
	var own string // the Retained's copy of name, made on first need
	for off := 0; ; {
		level, rest, more := cut(name[off:])
		c, _ := n.kids.Get(level)
		if c == nil {
			if own == "" {
				own = strings.Clone(name)
			}
			c = new(rnode[V])
			n.kids.Set(own[off:off+len(level)], c)
		}
		n = c
		if !more {
			break
		}
		off = len(name) - len(rest)
	}
	if !n.has {
		if own == "" {
			own = strings.Clone(name)
		}
		n.name, n.has = own, true
		r.count++
	}
	n.val = v
}

// Get returns the retained message of the topic name, if there is one.
func (r *Retained[V]) Get(name string) (V, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := r.lookupLocked(name); n != nil && n.has {
		return n.val, true
	}
	var zero V
	return zero, false
}

// lookupLocked returns the node for name, or nil. r.mu must be held.
func (r *Retained[V]) lookupLocked(name string) *rnode[V] {
	if name == "" {
		return nil
	}
	n := &r.root
	for {
		level, rest, more := cut(name)
		if n, _ = n.kids.Get(level); n == nil || !more {
			return n
		}
		name = rest
	}
}

// Delete removes the retained message of the topic name, and reports whether
// there was one. Trie nodes left empty are freed.
func (r *Retained[V]) Delete(name string) bool {
	if name == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.root.remove(name) {
		return false
	}
	r.count--
	return true
}

// DeleteIf removes the retained message of the topic name if cond holds
// for it, atomically with respect to Set, and reports whether it removed
// one: a message that replaced the one cond was meant for is kept.
func (r *Retained[V]) DeleteIf(name string, cond func(V) bool) bool {
	if name == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.lookupLocked(name)
	if n == nil || !n.has || !cond(n.val) || !r.root.remove(name) {
		return false
	}
	r.count--
	return true
}

// remove clears the value of the name below n, frees the nodes it leaves
// empty, and reports whether there was a value.
func (n *rnode[V]) remove(name string) bool {
	level, rest, more := cut(name)
	c, _ := n.kids.Get(level)
	if c == nil {
		return false
	}
	if more {
		if !c.remove(rest) {
			return false
		}
	} else {
		if !c.has {
			return false
		}
		var zero V
		c.val, c.name, c.has = zero, "", false
	}
	if !c.has && c.kids.Len() == 0 {
		n.kids.Delete(level)
	}
	return true
}

// Len returns the number of retained messages.
func (r *Retained[V]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// Match calls fn for each retained message whose topic name the filter
// matches, in no particular order, until fn returns false. It visits only the
// branches of the topic tree the filter can match, and applies the '$' rule:
// a filter starting with '+' or '#' does not return names starting with '$'
// [MQTT-4.7.2-1]. filter should be a valid plain filter; for a shared
// subscription pass the inner filter from ParseShared (MQTT 5.0 sends no
// retained messages on a shared subscription, §4.8.2).
//
// fn sees a snapshot taken when Match started, and runs without any lock
// held.
func (r *Retained[V]) Match(filter string, fn func(name string, v V) bool) {
	if filter == "" {
		return
	}
	buf := r.getBuf()
	r.mu.RLock()
	*buf = r.root.match(filter, true, *buf)
	r.mu.RUnlock()
	r.emit(buf, fn)
}

// DeleteFunc removes the values for which cond is true and returns how
// many it removed. A value stored meanwhile under the same name is checked
// again before it is removed (see DeleteIf).
func (r *Retained[V]) DeleteFunc(cond func(V) bool) int {
	var names []string
	r.Range(func(name string, v V) bool {
		if cond(v) {
			names = append(names, name)
		}
		return true
	})
	n := 0
	for _, name := range names {
		if r.DeleteIf(name, cond) {
			n++
		}
	}
	return n
}

// Range calls fn for every retained message, in no particular order, until
// fn returns false. It is meant for persistence and snapshots. Like Match,
// fn sees a snapshot and runs without any lock held.
func (r *Retained[V]) Range(fn func(name string, v V) bool) {
	buf := r.getBuf()
	r.mu.RLock()
	*buf = r.root.all(*buf)
	r.mu.RUnlock()
	r.emit(buf, fn)
}

func (r *Retained[V]) getBuf() *[]item[V] {
	if b, ok := r.bufs.Get().(*[]item[V]); ok {
		return b
	}
	return new([]item[V])
}

// emit calls fn for each item of buf, then returns buf to the pool.
func (r *Retained[V]) emit(buf *[]item[V], fn func(string, V) bool) {
	for _, it := range *buf {
		if !fn(it.name, it.val) {
			break
		}
	}
	clear(*buf) // drop references to names and values
	if cap(*buf) > maxPooled {
		return
	}
	*buf = (*buf)[:0]
	r.bufs.Put(buf)
}

// match appends the values below n that the filter (the levels not yet
// consumed, at least one) matches. root is set at the top level, where
// wildcards skip names starting with '$' [MQTT-4.7.2-1].
func (n *rnode[V]) match(filter string, root bool, out []item[V]) []item[V] {
	for {
		level, rest, more := cut(filter)
		switch level {
		case "#":
			if n.has {
				out = append(out, item[V]{n.name, n.val}) // the parent level
			}
			for l, c := range n.kids.All {
				if !root || !strings.HasPrefix(l, "$") {
					out = c.all(out)
				}
			}
			return out
		case "+":
			for l, c := range n.kids.All {
				switch {
				case root && strings.HasPrefix(l, "$"):
				case more:
					out = c.match(rest, false, out)
				case c.has:
					out = append(out, item[V]{c.name, c.val})
				}
			}
			return out
		}
		c, _ := n.kids.Get(level)
		switch {
		case c == nil:
			return out
		case !more:
			if c.has {
				out = append(out, item[V]{c.name, c.val})
			}
			return out
		}
		n, filter, root = c, rest, false
	}
}

// all appends every value at or below n.
func (n *rnode[V]) all(out []item[V]) []item[V] {
	if n.has {
		out = append(out, item[V]{n.name, n.val})
	}
	for _, c := range n.kids.All {
		out = c.all(out)
	}
	return out
}
