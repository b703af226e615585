package memreturn

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
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

	// A burst of connections (Connected): atomics, so that a connect
	// takes no lock shared with every other.
	conns    atomic.Int64 // connections since the burst's return
	lastConn atomic.Int64 // when the last one came, Unix nanoseconds
	watching atomic.Bool  // a timer waits for the burst to settle
}

// Burst and Settle decide when a burst of connections has its memory
// returned: once Burst connections came since the last such return and
// none came for Settle.
const (
	Burst  = 1000
	Settle = time.Second
)

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

// Connected notes that a client connected (or tried to). A burst of
// connections leaves the heap at twice what the connections hold, the
// collector's headroom for the garbage of their handshakes, and Go keeps
// those pages while the connections sit idle: once Burst connections came
// and none came for Settle, the memory is returned (as for a large packet,
// at most once a second). Steady churn never settles, and costs nothing
// but this count.
func (r *Returner) Connected() {
	r.lastConn.Store(time.Now().UnixNano())
	if r.conns.Add(1) >= Burst && r.watching.CompareAndSwap(false, true) {
		time.AfterFunc(Settle, r.settle)
	}
}

// settle returns the burst's memory if no connection came for Settle, or
// looks again once Settle has passed since the last one.
func (r *Returner) settle() {
	if wait := Settle - time.Duration(time.Now().UnixNano()-r.lastConn.Load()); wait > 0 {
		time.AfterFunc(wait, r.settle)
		return
	}
	r.conns.Store(0)
	r.watching.Store(false)
	r.Released()
}
