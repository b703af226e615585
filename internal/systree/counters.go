package systree

import (
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/connwrite"
	"github.com/midge-mqtt/midge/internal/periodic"
	"github.com/midge-mqtt/midge/internal/version"
)

// Counters are a broker's counters behind $SYS and its statistics. They
// are safe for concurrent use.
type Counters struct {
	In, Out           connwrite.Totals // packets received and sent
	BytesIn, BytesOut atomic.Uint64
	Routed            atomic.Uint64 // messages routed
	Dropped           atomic.Uint64 // messages dropped for a client
	SocketsAccepted   atomic.Uint64 // network connections accepted
	ConnectsReceived  atomic.Uint64 // CONNECT packets received
	Expired           atomic.Uint64 // sessions ended by their expiry
	Connected         atomic.Int64  // clients connected now
	MaxConnected      atomic.Int64
	Connections       atomic.Int64  // open network connections
	heapMax           atomic.Uint64 // the most heap Fill has seen
}

// Fill sets the fields of s that the counters give, and the heap in use.
func (c *Counters) Fill(s *Snapshot) {
	s.Connected, s.MaxConnected = c.Connected.Load(), c.MaxConnected.Load()
	s.MsgsIn, s.MsgsOut = c.In.Msgs.Load(), c.Out.Msgs.Load()
	s.BytesIn, s.BytesOut = c.BytesIn.Load(), c.BytesOut.Load()
	s.PubIn, s.PubOut, s.Dropped = c.In.Pubs.Load(), c.Out.Pubs.Load(), c.Dropped.Load()
	s.PubBytesIn, s.PubBytesOut = c.In.PubBytes.Load(), c.Out.PubBytes.Load()
	s.Expired = c.Expired.Load()
	s.SocketsAccepted, s.ConnectsReceived = c.SocketsAccepted.Load(), c.ConnectsReceived.Load()
	for t := range c.In.Types {
		s.TypesIn[t], s.TypesOut[t] = c.In.Types[t].Load(), c.Out.Types[t].Load()
	}
	s.Heap = HeapBytes()
	for m := c.heapMax.Load(); s.Heap > m && !c.heapMax.CompareAndSwap(m, s.Heap); m = c.heapMax.Load() {
	}
	s.HeapMax = c.heapMax.Load()
}

// Run publishes the tree until stop is closed, as Mosquitto does
// (src/sys_tree.c): the version once, then at once and at multiples of
// interval() in Unix time (as 2.1 does; see Wait) the uptime every time
// and every other value when it changed (State.Publish). now is the
// clock, snapshot reads the broker's values, publish publishes one
// retained message.
func Run(stop <-chan struct{}, now func() time.Time, interval func() time.Duration,
	snapshot func() *Snapshot, publish func(topic, value string)) {
	st := NewState(now())
	publish("$SYS/broker/version", "midge version "+version.Version)
	pub := func() { st.Publish(now(), snapshot(), publish) }
	pub()
	every := interval()
	periodic.Run(stop, func() time.Duration {
		if d := interval(); d > 0 {
			every = d // perhaps changed by a reload
		}
		return Wait(time.Now(), every)
	}, pub)
}
