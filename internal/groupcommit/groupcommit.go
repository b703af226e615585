package groupcommit

import (
	"context"
	"sync"
	"time"
)

// Funcs are what a Committer does with its batches of type B.
type Funcs[B any] struct {
	// Commit makes b durable. It runs on the Committer's goroutine, for
	// every batch that is not Empty.
	Commit func(b *B) error
	// Empty reports whether b holds no change.
	Empty func(b *B) bool
	// Recycle empties b for reuse, once its completions have run.
	Recycle func(b *B)
}

// Committer merges the changes added to it into batches and commits them
// on its own goroutine. In periodic mode (an interval > 0) commits happen on
// a timer and nobody waits for them.
type Committer[B any] struct {
	f         Funcs[B]
	closedErr error
	interval  time.Duration
	kick      chan struct{} // a commit is wanted (buffered, 1)
	stop      chan struct{} // closed by Close
	flushed   chan struct{} // closed when the loop has ended

	mu     sync.Mutex
	segs   []*segment[B] // guarded by mu: pending work, in order; never empty
	closed bool          // guarded by mu
	free   []*segment[B] // guarded by mu: emptied segments for reuse
}

// segment is changes committed together and the completions that wait for
// them. A fence ends a segment, so nothing added after it is committed
// before its completion has run.
type segment[B any] struct {
	batch B
	dones []func(error)
}

// New starts a committer that commits at once (interval 0) or every
// interval. Once it is closed, adds fail with closedErr.
func New[B any](interval time.Duration, closedErr error, f Funcs[B]) *Committer[B] {
	c := &Committer[B]{f: f, closedErr: closedErr, interval: interval, segs: []*segment[B]{{}},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), flushed: make(chan struct{})}
	go c.loop()
	return c
}

// Interval returns the committer's interval: 0 if every add is committed
// at once.
func (c *Committer[B]) Interval() time.Duration { return c.interval }

// Add queues the changes fill makes and calls done (if not nil) with the
// commit's outcome once they are durable, or at once in periodic mode. fill
// runs under the committer's lock, so the order of its changes matches the
// order of Add calls. done runs on the committer's goroutine: it must not
// block, nor wait for another Add.
func (c *Committer[B]) Add(fill func(b *B), done func(error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if done != nil {
			done(c.closedErr)
		}
		return
	}
	seg := c.segs[len(c.segs)-1]
	if fill != nil {
		fill(&seg.batch)
	}
	if c.interval > 0 {
		c.mu.Unlock()
		if done != nil {
			done(nil) // periodic: acknowledgements do not wait
		}
		return
	}
	seg.dones = append(seg.dones, done)
	c.mu.Unlock()
	c.poke()
}

func (c *Committer[B]) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Flush commits everything added so far now, in periodic mode too, and
// waits for it.
func (c *Committer[B]) Flush() error {
	ch := make(chan error, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.closedErr
	}
	seg := c.segs[len(c.segs)-1]
	seg.dones = append(seg.dones, func(err error) { ch <- err })
	c.mu.Unlock()
	c.poke()
	return <-ch
}

// Fence queues done to run once everything added before it is committed,
// and before anything added after it is: later changes go into a later
// commit. done gets the outcome of the commit before it.
func (c *Committer[B]) Fence(done func(error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		done(c.closedErr)
		return
	}
	seg := c.segs[len(c.segs)-1]
	seg.dones = append(seg.dones, done)
	var next *segment[B]
	if n := len(c.free); n > 0 {
		next, c.free = c.free[n-1], c.free[:n-1]
	} else {
		next = &segment[B]{}
	}
	c.segs = append(c.segs, next)
	c.mu.Unlock()
	c.poke()
}

// Wait adds the changes and waits until they are durable (in periodic mode,
// until they are queued).
func (c *Committer[B]) Wait(fill func(b *B)) error {
	if c.interval > 0 {
		c.Add(fill, nil)
		return nil
	}
	ch := make(chan error, 1)
	c.Add(fill, func(err error) { ch <- err })
	return <-ch
}

// loop commits what is pending until Close.
func (c *Committer[B]) loop() {
	defer close(c.flushed)
	var tick <-chan time.Time
	if c.interval > 0 {
		t := time.NewTicker(c.interval)
		defer t.Stop()
		tick = t.C
	}
	stopping := false
	for {
		if !stopping {
			select {
			case <-c.kick:
			case <-tick:
			case <-c.stop:
				stopping = true
			}
		}
		c.mu.Lock()
		segs := c.segs
		var fresh *segment[B]
		if n := len(c.free); n > 0 {
			fresh, c.free = c.free[n-1], c.free[:n-1]
		} else {
			fresh = &segment[B]{}
		}
		c.segs = []*segment[B]{fresh}
		c.mu.Unlock()

		for _, seg := range segs {
			var err error
			if !c.f.Empty(&seg.batch) {
				err = c.f.Commit(&seg.batch)
			}
			for _, done := range seg.dones {
				if done != nil {
					done(err)
				}
			}
			c.f.Recycle(&seg.batch)
			clear(seg.dones)
			seg.dones = seg.dones[:0]
		}
		c.mu.Lock()
		c.free = append(c.free, segs...)
		empty := len(c.segs) == 1 && c.f.Empty(&c.segs[0].batch) && len(c.segs[0].dones) == 0
		c.mu.Unlock()
		if stopping && empty {
			return
		}
	}
}

// Close commits what is pending and stops the loop, or stops waiting for
// it when ctx is done, returning ctx's error. Later adds fail with the
// closed error.
func (c *Committer[B]) Close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	select {
	case <-c.flushed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
