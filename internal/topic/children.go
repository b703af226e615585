package topic

import "iter"

// smallKids is the most literal children a trie node keeps in a slice. Most
// nodes of a real topic tree have one or a few children, and a short slice
// costs far less memory than a map (a Go map with one entry takes about 250
// bytes) and is as fast to search at this size.
const smallKids = 8

// children maps a topic level to a child node: a slice of at most smallKids
// entries searched linearly, or a map once there are more. The zero value is
// empty. It is not safe for concurrent use; its owner's lock guards it.
type children[T any] struct {
	list []kid[T]      // used while m is nil
	m    map[string]*T // used once there are more than smallKids children
}

// kid is one entry of children.list.
type kid[T any] struct {
	level string
	n     *T
}

// get returns the child for level, or nil.
func (c *children[T]) get(level string) *T {
	if c.m != nil {
		return c.m[level]
	}
	for i := range c.list {
		if c.list[i].level == level {
			return c.list[i].n
		}
	}
	return nil
}

// add adds n as the child for level, which must not be present.
func (c *children[T]) add(level string, n *T) {
	if c.m != nil {
		c.m[level] = n
		return
	}
	if len(c.list) < smallKids {
		c.list = append(c.list, kid[T]{level, n})
		return
	}
	c.m = make(map[string]*T, 2*smallKids)
	for _, k := range c.list {
		c.m[k.level] = k.n
	}
	c.m[level] = n
	c.list = nil
}

// del removes the child for level, if present.
func (c *children[T]) del(level string) {
	if c.m != nil {
		delete(c.m, level)
		if len(c.m) <= smallKids/2 {
			// Back to a slice, with hysteresis so that churn around the
			// threshold does not rebuild the map every time.
			list := make([]kid[T], 0, smallKids)
			for l, n := range c.m {
				list = append(list, kid[T]{l, n})
			}
			c.list, c.m = list, nil
		}
		return
	}
	for i := range c.list {
		if c.list[i].level == level {
			last := len(c.list) - 1
			c.list[i] = c.list[last]
			c.list[last] = kid[T]{}
			c.list = c.list[:last]
			if last == 0 {
				c.list = nil
			}
			return
		}
	}
}

// len returns the number of children.
func (c *children[T]) len() int {
	if c.m != nil {
		return len(c.m)
	}
	return len(c.list)
}

// all returns an iterator over the children, in no particular order.
func (c *children[T]) all() iter.Seq2[string, *T] {
	return func(yield func(string, *T) bool) {
		if c.m != nil {
			for l, n := range c.m {
				if !yield(l, n) {
					return
				}
			}
			return
		}
		for _, k := range c.list {
			if !yield(k.level, k.n) {
				return
			}
		}
	}
}
