package connwrite

import "sync"

// Gate decides when a connection's writer goroutine runs: Wake starts one
// unless one runs (then it makes the running one look again), and the
// writer ends when Idle says nothing came in meanwhile. At most one writer
// runs at a time. The zero value is ready to use.
type Gate struct {
	mu      sync.Mutex    // guards the fields below
	writing bool          // a writer goroutine runs
	dirty   bool          // Wake was called while it ran
	dead    bool          // the connection is closed: no new writer
	gone    chan struct{} // closed when the writer exits, if Stop waits for it
}

// Wake makes sure a writer will look at the queues. It reports whether
// the caller must start one (go Run(...)): none runs and the gate is not
// stopped. (Taking the function to start would cost an allocation per
// wake-up, a method value.)
func (g *Gate) Wake() (start bool) {
	g.mu.Lock()
	switch {
	case g.dead:
	case g.writing:
		g.dirty = true
	default:
		g.writing = true
		start = true
	}
	g.mu.Unlock()
	return start
}

// Pass is called by the writer before it collects what to write: a Wake
// from now on makes Idle return false.
func (g *Gate) Pass() {
	g.mu.Lock()
	g.dirty = false
	g.mu.Unlock()
}

// Idle is called by the writer when it found nothing to write. It reports
// whether the writer must end: true unless Wake was called since Pass.
// A Wake before Stop counts too: what it announced (a connection's last
// packet) is written before Stop returns; no Wake counts after Stop. When
// it returns true, release has run, under the gate's lock, before another
// writer may start: it gives back what the writer held.
func (g *Gate) Idle(release func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dirty {
		return false
	}
	release()
	g.exitedLocked()
	return true
}

// Failed is called by a writer that ends because a write failed: no writer
// starts again.
func (g *Gate) Failed() {
	g.mu.Lock()
	g.dead = true
	g.exitedLocked()
	g.mu.Unlock()
}

// exitedLocked marks the writer gone and wakes Stop if it waits for that.
// g.mu must be held.
func (g *Gate) exitedLocked() {
	g.writing = false
	if g.gone != nil {
		close(g.gone)
		g.gone = nil
	}
}

// Stop stops the gate (no writer starts any more) and waits until the
// running writer, if any, has ended.
func (g *Gate) Stop() {
	g.mu.Lock()
	g.dead = true
	if !g.writing {
		g.mu.Unlock()
		return
	}
	gone := make(chan struct{})
	g.gone = gone
	g.mu.Unlock()
	<-gone
}

// Source is what a connection's writer writes: its queues and its socket.
type Source[T any] interface {
	// Collect appends what may be written now to batch, and reports
	// whether the connection is closing: it is closed (Close) once nothing
	// is left to write.
	Collect(batch []T) (more []T, closing bool)
	// Encode appends the packet for it to b.
	Encode(b *Buffer[T], it *T)
	// Write writes b (Buffer.WriteTo) and counts it.
	Write(b *Buffer[T]) error
	// Close closes the connection.
	Close()
	// Released is called when a buffer that held a large payload was given
	// back: memory may be returned to the system.
	Released()
}

// Run is a writer goroutine for src, started when Wake says so:
// it writes what src has to write, in batches encoded into a Buffer from
// pool, and returns when nothing is left, or after a write error (then src
// is closed and no writer starts again).
func Run[T any](g *Gate, pool *Pool[T], src Source[T]) {
	b := pool.Get()
	// release gives back the buffer; it must run before the writer
	// announces its end, when another writer may start.
	release := func() {
		if pool.Put(b) {
			src.Released()
		}
	}
	for {
		g.Pass()
		var closing bool
		b.Batch, closing = src.Collect(b.Batch[:0])
		if len(b.Batch) > 0 {
			b.Reset()
			for i := range b.Batch {
				src.Encode(b, &b.Batch[i])
			}
			clear(b.Batch)
			if b.Len() > 0 {
				if err := src.Write(b); err != nil {
					src.Close()
					release()
					g.Failed()
					return
				}
			}
			continue
		}
		if closing {
			src.Close() // the last packet (DISCONNECT) is written
		}
		if g.Idle(release) {
			return
		}
	}
}
