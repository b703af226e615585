package lazyctx

import (
	"context"
	"sync"
	"time"
)

// Ctx is a context.Context derived from a parent and ended by Cancel: 40
// bytes, and one allocation only once something waits on Done. The zero
// Ctx is not usable: Init it first. Use it by pointer. context.Cause of a
// Ctx cancelled while its parent lives is context.Canceled.
type Ctx struct {
	parent context.Context
	mu     sync.Mutex // guards the fields below
	ended  byte       // live, cancelled or parentEnded
	w      *watch     // made by the first Done
}

// Values of Ctx.ended.
const (
	live byte = iota
	cancelled
	parentEnded
)

// watch is what a Ctx needs once something waits on it.
type watch struct {
	done chan struct{} // closed when the context ends
	stop func() bool   // stops the watch on the parent, if any
}

// Init makes c a new context derived from parent.
func (c *Ctx) Init(parent context.Context) { *c = Ctx{parent: parent} }

// Deadline returns the parent's deadline.
func (c *Ctx) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Value returns the parent's value for key.
func (c *Ctx) Value(key any) any { return c.parent.Value(key) }

// Done returns a channel closed when c is cancelled or its parent ends.
func (c *Ctx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w != nil {
		return c.w.done
	}
	c.w = &watch{done: make(chan struct{})}
	if c.ended == live && c.parent.Err() != nil {
		c.ended = parentEnded
	}
	switch {
	case c.ended != live:
		close(c.w.done)
	case c.parent.Done() != nil:
		c.w.stop = context.AfterFunc(c.parent, func() { c.end(parentEnded) })
	}
	return c.w.done
}

// Err returns nil until c ends, then context.Canceled if Cancel ended it,
// or the parent's error.
func (c *Ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended == live && c.w == nil && c.parent.Err() != nil {
		c.ended = parentEnded // nobody waits on Done: the parent's end is seen here
	}
	switch c.ended {
	case cancelled:
		return context.Canceled
	case parentEnded:
		return c.parent.Err()
	}
	return nil
}

// Cancel ends c, if it has not ended.
func (c *Ctx) Cancel() { c.end(cancelled) }

func (c *Ctx) end(why byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended != live {
		return
	}
	c.ended = why
	if c.w != nil {
		close(c.w.done)
		if c.w.stop != nil {
			c.w.stop()
		}
	}
}
