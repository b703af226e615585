package topic

// Nodes returns the number of trie nodes below the root, for tests of
// pruning.
func (ix *Index[S]) Nodes() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.root.count()
}

func (n *node[S]) count() int {
	c := 0
	for _, k := range n.kids.all() {
		c += 1 + k.count()
	}
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

func (n *rnode[V]) count() int {
	c := 0
	for _, k := range n.kids.all() {
		c += 1 + k.count()
	}
	return c
}
