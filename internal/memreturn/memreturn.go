package broker

import (
	"runtime/debug"
	"sync"
	"time"
)

// largeRelease is the packet size from which the broker gives memory back
// to the operating system once the packet is done with (see memReturn).
const largeRelease = 8 << 20

// memReturn gives the memory of large packets back to the operating system
// soon after they are handled and written. Go's collector would otherwise
// keep a 200 MB payload's pages for minutes: with no other allocation it
// does not even collect it before its two-minute forced cycle, and then
// scavenges gradually. Returning memory costs a collection, so it runs at
// most once a second, coalescing the packets in between, and only for
// packets of largeRelease or more.
type memReturn struct {
	mu      sync.Mutex // guards pending and last
	pending bool       // a return is scheduled
	last    time.Time  // when the last one ran
}

// released notes that a large packet was handled or written: its memory is
// returned shortly, unless nothing references it by then.
func (r *memReturn) released() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending {
		return
	}
	r.pending = true
	delay := max(100*time.Millisecond, time.Second-time.Since(r.last))
	time.AfterFunc(delay, func() {
		r.mu.Lock()
		r.pending, r.last = false, time.Now()
		r.mu.Unlock()
		debug.FreeOSMemory()
	})
}
