package topic

import "github.com/midge-mqtt/midge/internal/smallmap"

// Nodes returns the number of trie nodes below the root, for tests of
// pruning.
func (ix *Index[S]) Nodes() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.root.count()
}

func (n *node[S]) count() int {
	c := countBelow(&n.kids, (*node[S]).count)
	if n.plus != nil {
		c += 1 + n.plus.count()
	}
	if n.hash != nil {
		c += 1 + n.hash.count()
	}
	return c
}

// Owners returns the number of subscribers with at least one subscription.
func (ix *Index[S]) Owners() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.owners)
}

// Nodes returns the number of trie nodes below the root.
func (r *Retained[V]) Nodes() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.root.count()
}

func (n *rnode[V]) count() int { return countBelow(&n.kids, (*rnode[V]).count) }

// countBelow returns the number of nodes in the subtrees of kids: each kid
// and the count of nodes below it.
func countBelow[T any](kids *smallmap.Map[*T, smallmap.ForLookups], count func(*T) int) int {
	c := 0
	for _, k := range kids.All {
		c += 1 + count(k)
	}
	return c
}
