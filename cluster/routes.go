package cluster

import (
	"hash/fnv"
	"sync"

	"github.com/midge-mqtt/midge/internal/topic"
)

// Routes: each node owns its routes, the filters its broker's sessions
// subscribe to (a shared group's as "$share/NAME/FILTER"), and announces
// them to every other live node over a route stream (routestream.go): in
// full when the stream opens (and after a queue overflow), then each
// change, in order, on a reliable TCP stream. A node's routes are dropped
// when memberlist declares it dead or gone. Matching goes through
// internal/topic's Index, with node ids as subscribers.

// routeTable is every node's routes, this node's included.
type routeTable struct {
	ix *topic.Index[string] // every node's routes; its own lock, read without mu

	mu    sync.Mutex                 // guards the fields below, and orders changes of ix
	own   map[string]bool            // this node's routes
	nodes map[string]map[string]bool // the other nodes' routes, by node id
	out   map[string]*routeOut       // outgoing route streams, by node id
	in    map[string]*routeIn        // each node's current incoming route stream

	scratch sync.Pool // *topic.Matches[string]
}

func newRouteTable() *routeTable {
	return &routeTable{ix: topic.NewIndex[string](), own: make(map[string]bool), nodes: make(map[string]map[string]bool),
		out: make(map[string]*routeOut), in: make(map[string]*routeIn),
		scratch: sync.Pool{New: func() any { return new(topic.Matches[string]) }}}
}

// Target is where a message goes on another node: to its subscriptions
// that are not shared (Plain), and to one member of each shared group of
// Groups, for which it was picked.
type Target struct {
	Node   string   // node id
	Plain  bool     // a route of the node that is not shared matches
	Groups []string // the shared groups ("$share/NAME/FILTER") the node was picked for
}

// SetRoute adds (or removes) one of this node's routes: a filter its
// broker's sessions subscribe to, a shared group's as "$share/NAME/FILTER"
// (the broker's Config.OnRoute). The other nodes learn it promptly. An
// invalid filter is ignored.
func (n *Node) SetRoute(filter string, added bool) {
	r := n.routes
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.own[filter] == added {
		return
	}
	if added {
		if _, err := r.ix.Subscribe(n.cfg.NodeID, filter, topic.Options{}); err != nil {
			return
		}
		r.own[filter] = true
	} else {
		r.ix.Unsubscribe(n.cfg.NodeID, filter)
		delete(r.own, filter)
	}
	for _, o := range r.out {
		o.queueLocked(routeOp{filter: filter, added: added})
	}
}

// Targets returns the other nodes a message on topic name goes to: each
// node with a matching route that is not shared, and, for each shared
// group that matches, the node picked among those holding the group (see
// SharedHere) when it is not this one. key identifies the message (the
// same key for the same message), spreading a group's messages over its
// nodes. Topics starting with '$' go nowhere.
func (n *Node) Targets(name string, key uint64) []Target {
	if name == "" || name[0] == '$' {
		return nil
	}
	r := n.routes
	m := r.scratch.Get().(*topic.Matches[string])
	defer r.scratch.Put(m)
	r.ix.Match(name, m)
	var out []Target
	at := func(id string) *Target {
		for i := range out {
			if out[i].Node == id {
				return &out[i]
			}
		}
		out = append(out, Target{Node: id})
		return &out[len(out)-1]
	}
	for _, e := range m.Subs {
		if e.Sub != n.cfg.NodeID {
			at(e.Sub).Plain = true
		}
	}
	for _, g := range m.Shared {
		if id := pick(g, key); id != "" && id != n.cfg.NodeID {
			t := at(id)
			t.Groups = append(t.Groups, g.Filter())
		}
	}
	clear(m.Subs)
	clear(m.Shared)
	return out
}

// SharedHere reports whether this node delivers the message of key to the
// shared group with filter group: whether it is the node picked among
// those holding the group, as Targets picks (the broker's
// Config.SharedChoice). When no node is known to hold the group (this
// node's route is not in the table yet) it is this node.
func (n *Node) SharedHere(group string, key uint64) bool {
	g := n.routes.ix.Group(group)
	if g == nil {
		return true
	}
	id := pick(g, key)
	return id == "" || id == n.cfg.NodeID
}

// pick chooses the node of g's members that gets the message of key:
// rendezvous hashing, the member with the highest hash of (key, group,
// node), so that every message goes to one node, the nodes share the
// messages evenly, and a node joining or leaving the group moves only the
// messages it wins or won.
func pick(g *topic.Group[string], key uint64) string {
	best, bestScore := "", uint64(0)
	gh := hashString(g.Filter())
	for _, e := range g.Members() {
		s := mix(key ^ gh ^ mix(hashString(e.Sub)))
		if best == "" || s > bestScore || s == bestScore && e.Sub < best {
			best, bestScore = e.Sub, s
		}
	}
	return best
}

// hashString is FNV-1a: the same on every node and every run.
func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// applyRoutes makes node id's routes set (full) or changes them (ops),
// from its route stream in; nothing changes if in is no longer that
// node's current stream (its routes were dropped meanwhile).
func (r *routeTable) applyRoutes(id string, in *routeIn, full map[string]bool, ops []routeOp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.in[id] != in {
		return
	}
	cur := r.nodes[id]
	if cur == nil {
		cur = make(map[string]bool)
		r.nodes[id] = cur
	}
	if full != nil {
		for f := range cur {
			if !full[f] {
				r.ix.Unsubscribe(id, f)
				delete(cur, f)
			}
		}
		for f := range full {
			if !cur[f] {
				if _, err := r.ix.Subscribe(id, f, topic.Options{}); err == nil {
					cur[f] = true
				}
			}
		}
	}
	for _, op := range ops {
		switch {
		case op.added && !cur[op.filter]:
			if _, err := r.ix.Subscribe(id, op.filter, topic.Options{}); err == nil {
				cur[op.filter] = true
			}
		case !op.added && cur[op.filter]:
			r.ix.Unsubscribe(id, op.filter)
			delete(cur, op.filter)
		}
	}
}

// dropLocked forgets node id's routes and closes its incoming stream, if
// any: its next stream starts with its routes in full. r.mu must be held.
func (r *routeTable) dropLocked(id string) {
	if in := r.in[id]; in != nil {
		in.c.Close()
		delete(r.in, id)
	}
	if r.nodes[id] != nil {
		r.ix.UnsubscribeAll(id)
		delete(r.nodes, id)
	}
}

// counts returns the number of routes of each node, this one's included.
func (r *routeTable) counts(self string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{self: len(r.own)}
	for id, fs := range r.nodes {
		out[id] = len(fs)
	}
	return out
}
