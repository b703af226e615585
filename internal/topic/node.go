package topic

import (
	"strings"
	"sync/atomic"

	"github.com/midge-mqtt/midge/internal/smallmap"
)

// node is one level of the subscription trie. The path from the root spells
// a plain filter (without any $share prefix); the node holds the
// subscriptions to exactly that filter. Nodes are guarded by their Index's
// lock. A node is about 80 bytes; everything rarely needed sits behind more.
type node[S comparable] struct {
	kids smallmap.Map[*node[S], smallmap.ForLookups] // literal next levels
	plus *node[S]                                    // next level "+"
	hash *node[S]                                    // next level "#"; it never has children
	subs []Entry[S]                                  // non-shared subscriptions to this filter
	more *extra[S]                                   // nil unless needed
}

// extra holds the rarely used parts of a node.
type extra[S comparable] struct {
	pos    map[S]int32 // index into subs, while len(subs) > subsIndexAt/2
	groups []*Group[S] // shared-subscription groups on this filter
}

// subsIndexAt is the number of subscriptions on one filter above which the
// node keeps a map from subscriber to position, so that unsubscribing from a
// filter that a million sessions hold is not a linear search.
const subsIndexAt = 32

// pathLocked returns the node for the plain filter f, creating missing nodes.
// f is a suffix of full. New nodes take their level strings from *own, a
// private copy of full made on first need, so the trie never aliases the
// caller's memory.
func (n *node[S]) pathLocked(full, f string, own *string) *node[S] {
	off := len(full) - len(f) // offset of f's current level in full
	for {
		level, rest, more := cut(f)
		var c *node[S]
		switch level {
		case "+":
			if n.plus == nil {
				n.plus = new(node[S])
			}
			c = n.plus
		case "#":
			if n.hash == nil {
				n.hash = new(node[S])
			}
			c = n.hash
		default:
			c, _ = n.kids.Get(level)
			if c == nil {
				if *own == "" {
					*own = strings.Clone(full)
				}
				c = new(node[S])
				n.kids.Set((*own)[off:off+len(level)], c)
			}
		}
		if !more {
			return c
		}
		n, f = c, rest
		off += len(level) + 1
	}
}

// child returns the child for one filter level, or nil.
func (n *node[S]) child(level string) *node[S] {
	switch level {
	case "+":
		return n.plus
	case "#":
		return n.hash
	}
	c, _ := n.kids.Get(level)
	return c
}

// lookup returns the node for the plain filter f, or nil.
func (n *node[S]) lookup(f string) *node[S] {
	for n != nil {
		level, rest, more := cut(f)
		n = n.child(level)
		if !more {
			return n
		}
		f = rest
	}
	return nil
}

// remove removes sub's subscription to the plain filter f below n (from
// group if shared), frees the nodes it leaves empty, and reports whether
// there was such a subscription.
func (n *node[S]) remove(f string, sub S, group string, shared bool) bool {
	level, rest, more := cut(f)
	c := n.child(level)
	if c == nil {
		return false
	}
	var found bool
	switch {
	case more:
		found = c.remove(rest, sub, group, shared)
	case shared:
		found = c.leave(group, sub)
	default:
		if i := c.find(sub); i >= 0 {
			c.del(i)
			found = true
		}
	}
	if found && c.empty() {
		switch level {
		case "+":
			n.plus = nil
		case "#":
			n.hash = nil
		default:
			n.kids.Delete(level)
		}
	}
	return found
}

// empty reports whether n holds nothing and can be freed.
func (n *node[S]) empty() bool {
	return len(n.subs) == 0 && n.more == nil && n.plus == nil && n.hash == nil && n.kids.Len() == 0
}

// find returns the position of sub in n.subs, or -1.
func (n *node[S]) find(sub S) int {
	if n.more != nil && n.more.pos != nil {
		if i, ok := n.more.pos[sub]; ok {
			return int(i)
		}
		return -1
	}
	for i := range n.subs {
		if n.subs[i].Sub == sub {
			return i
		}
	}
	return -1
}

// add appends a subscription of a subscriber not yet in n.subs.
func (n *node[S]) add(e Entry[S]) {
	n.subs = append(n.subs, e)
	switch {
	case n.more != nil && n.more.pos != nil:
		n.more.pos[e.Sub] = int32(len(n.subs) - 1)
	case len(n.subs) > subsIndexAt:
		if n.more == nil {
			n.more = new(extra[S])
		}
		n.more.pos = make(map[S]int32, len(n.subs))
		for i := range n.subs {
			n.more.pos[n.subs[i].Sub] = int32(i)
		}
	}
}

// del removes n.subs[i], moving the last subscription into its place.
func (n *node[S]) del(i int) {
	last := len(n.subs) - 1
	if x := n.more; x != nil && x.pos != nil {
		delete(x.pos, n.subs[i].Sub)
		if i != last {
			x.pos[n.subs[last].Sub] = int32(i)
		}
	}
	n.subs[i] = n.subs[last]
	n.subs[last] = Entry[S]{}
	n.subs = n.subs[:last]
	switch {
	case last == 0:
		n.subs = nil
	case cap(n.subs) > 64 && last < cap(n.subs)/4:
		n.subs = append([]Entry[S](nil), n.subs...)
	}
	if x := n.more; x != nil && x.pos != nil && last <= subsIndexAt/2 {
		x.pos = nil
		n.tidy()
	}
}

// group returns the group with the given ShareName on n, or nil.
func (n *node[S]) group(name string) *Group[S] {
	if n == nil || n.more == nil {
		return nil
	}
	for _, g := range n.more.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

// leave removes sub from the group name on n, dropping the group when it
// becomes empty, and reports whether sub was a member.
func (n *node[S]) leave(name string, sub S) bool {
	g := n.group(name)
	if g == nil || !g.leave(sub) {
		return false
	}
	if len(g.Members()) == 0 {
		gs := n.more.groups
		for i := range gs {
			if gs[i] == g {
				last := len(gs) - 1
				gs[i] = gs[last]
				gs[last] = nil
				n.more.groups = gs[:last]
				break
			}
		}
		if len(n.more.groups) == 0 {
			n.more.groups = nil
		}
		n.tidy()
	}
	return true
}

// tidy drops n.more when it holds nothing.
func (n *node[S]) tidy() {
	if n.more != nil && n.more.pos == nil && len(n.more.groups) == 0 {
		n.more = nil
	}
}

// collect appends n's subscriptions and groups to m.
func (n *node[S]) collect(m *Matches[S]) {
	m.Subs = append(m.Subs, n.subs...)
	if n.more != nil {
		m.Shared = append(m.Shared, n.more.groups...)
	}
}

// collectLeaf collects a node where the topic name ends: its own
// subscriptions and those of "#" below it, which also match the parent level.
func (n *node[S]) collectLeaf(m *Matches[S]) {
	n.collect(m)
	if n.hash != nil {
		n.hash.collect(m)
	}
}

// Group is one shared-subscription group: the subscribers to
// "$share/{ShareName}/{filter}" for one ShareName and filter. A message that
// matches the filter goes to one member of the group (MQTT 5.0 §4.8.2).
//
// A Group is safe for concurrent use. Its membership is a copy-on-write
// snapshot, so Members and Next never block and never hold a lock while
// calling out. A Group obtained from Index.Match stays valid after its last
// member leaves; it is then empty.
type Group[S comparable] struct {
	name    string                     // ShareName, a substring of filter
	filter  string                     // "$share/{ShareName}/{filter}"
	members atomic.Pointer[[]Entry[S]] // written with the Index's lock held
	next    atomic.Uint64              // round-robin cursor
}

// Name returns the group's ShareName.
func (g *Group[S]) Name() string { return g.name }

// Filter returns the group's full filter, "$share/{ShareName}/{filter}",
// which is also the Filter of each of its members' entries.
func (g *Group[S]) Filter() string { return g.filter }

// Members returns the current members of the group with their options. The
// returned slice is a shared snapshot: it must not be modified.
func (g *Group[S]) Members() []Entry[S] {
	if p := g.members.Load(); p != nil {
		return *p
	}
	return nil
}

// Next picks the next member in round-robin order that ok accepts (ok may be
// nil to accept any), and reports false if ok accepts none. Members that ok
// rejects, such as offline sessions, are skipped without losing their turn
// to others: over a run of calls every accepted member is picked equally
// often. ok is called without any lock held, at most once per member per
// call. Concurrent calls each advance the shared cursor, so they tend to pick
// different members.
func (g *Group[S]) Next(ok func(S) bool) (Entry[S], bool) {
	ms := g.Members()
	n := uint64(len(ms))
	if n == 0 {
		return Entry[S]{}, false
	}
	start := g.next.Add(1) - 1
	for i := range n {
		e := ms[(start+i)%n]
		if ok == nil || ok(e.Sub) {
			if i > 0 {
				// Resume after the member picked, not after the first one
				// skipped, or the member following a rejected one would get
				// its turn too. If another call moved the cursor meanwhile,
				// leave it: both calls are served.
				g.next.CompareAndSwap(start+1, start+i+1)
			}
			return e, true
		}
	}
	return Entry[S]{}, false
}

// join adds e to the group, or replaces the options of e.Sub if it is
// already a member, and reports whether it was. The Index's lock must be
// held.
func (g *Group[S]) join(e Entry[S]) (existed bool) {
	cur := g.Members()
	for i := range cur {
		if cur[i].Sub == e.Sub {
			next := append([]Entry[S](nil), cur...)
			next[i] = e // [MQTT-3.8.4-3]
			g.members.Store(&next)
			return true
		}
	}
	// Appending in place is safe: readers of the current snapshot never
	// look past its length, and a grown copy is a new array.
	next := append(cur, e)
	g.members.Store(&next)
	return false
}

// leave removes sub from the group and reports whether it was a member. The
// order of the other members is kept. The Index's lock must be held.
func (g *Group[S]) leave(sub S) bool {
	cur := g.Members()
	for i := range cur {
		if cur[i].Sub == sub {
			next := make([]Entry[S], 0, len(cur)-1)
			next = append(next, cur[:i]...)
			next = append(next, cur[i+1:]...)
			g.members.Store(&next)
			return true
		}
	}
	return false
}
