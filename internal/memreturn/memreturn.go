package memreturn

import (
	"runtime/debug"
	"sync"
	"time"
)

// Large is the packet size from which the broker gives memory back to the
// operating system once the packet is done with (see Returner).
const Large = 8 << 20

// Returner gives the memory of large packets back to the operating system
// soon after they are handled and written. Go's collector would otherwise
// keep a 200 MB payload's pages for minutes: with no other allocation it
// does not even collect it before its two-minute forced cycle, and then
// scavenges gradually. Returning memory costs a collection, so it runs at
// most once a second, coalescing the packets in between, and only for
// packets of Large or more. Its zero value is ready; it is safe for
// concurrent use.
type Returner struct {
	mu      sync.Mutex // guards pending and last
	pending bool       // a return is scheduled
	last    time.Time  // when the last one ran
}

// Released notes that a large packet was handled or written: its memory is
// returned shortly, unless something still references it by then.
func (r *Returner) Released() {
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
