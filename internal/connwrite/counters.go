package connwrite

import (
	"sync/atomic"

	"github.com/midge-mqtt/midge/packet"
)

// Totals are a server's packet counters in one direction, behind $SYS. It
// is safe for concurrent use.
type Totals struct {
	Msgs     atomic.Uint64     // control packets
	Pubs     atomic.Uint64     // PUBLISH packets
	PubBytes atomic.Uint64     // PUBLISH payload bytes
	Types    [16]atomic.Uint64 // control packets by packet.Type
}

// Counters count the packets of a batch, added to Totals at Flush: one
// atomic add per batch instead of several per packet, which on many cores
// contend for the same cache line. They belong to one goroutine.
type Counters struct {
	Msgs, Pubs, PubBytes uint64
	Types                [16]uint32 // packets by type
}

// Packet counts a packet of type t.
func (c *Counters) Packet(t packet.Type) {
	c.Msgs++
	c.Types[t&15]++
}

// Payload counts the payload of n bytes of a PUBLISH counted by Packet.
func (c *Counters) Payload(n int) {
	c.Pubs++
	c.PubBytes += uint64(n)
}

// Flush adds the counts to t and clears them.
func (c *Counters) Flush(t *Totals) {
	if c.Msgs == 0 {
		return
	}
	t.Msgs.Add(c.Msgs)
	for i, n := range c.Types {
		if n != 0 {
			t.Types[i].Add(uint64(n))
			c.Types[i] = 0
		}
	}
	if c.Pubs > 0 {
		t.Pubs.Add(c.Pubs)
		t.PubBytes.Add(c.PubBytes)
	}
	c.Msgs, c.Pubs, c.PubBytes = 0, 0, 0
}
