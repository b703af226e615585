package broker

import (
	"sync"
	"time"
)

// slotLen is the granularity of keep alive deadlines of parked
// connections: one may time out up to about two slots late, well within
// the half keep alive of grace the spec already gives [MQTT-3.1.2-22].
const slotLen = 100 * time.Millisecond

// deadlines holds the keep alive deadlines of parked connections in slots
// of slotLen, so that a parked connection costs a slice entry instead of a
// runtime timer of its own. A connection is in at most one slot. One timer
// is armed for the earliest filled slot; when it fires, the connections of
// the slots that have come are timed out.
type deadlines struct {
	srv     *Server
	mu      sync.Mutex
	slots   map[int64][]*conn // by Server.mono / slotLen; guarded by mu
	armed   int64             // the slot the timer is set for, 0 if none
	timer   *time.Timer
	stopped bool
}

// add schedules c to time out at mono time at, unless it is scheduled.
func (d *deadlines) add(c *conn, at time.Duration) {
	s := max(int64((at+slotLen-1)/slotLen), 1) // the first slot at or after at
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.kaSlot != 0 {
		return
	}
	if d.slots == nil {
		d.slots = make(map[int64][]*conn)
	}
	c.kaSlot, c.kaIndex = s, int32(len(d.slots[s]))
	d.slots[s] = append(d.slots[s], c)
	if d.armed == 0 || s < d.armed {
		d.armLocked(s)
	}
}

// armLocked sets the timer for slot s. d.mu must be held.
func (d *deadlines) armLocked(s int64) {
	d.armed = s
	if d.stopped {
		return
	}
	wait := time.Duration(s)*slotLen - d.srv.mono()
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
	} else {
		d.timer.Reset(wait)
	}
}

// remove unschedules c if it is scheduled. The timer stays armed: firing
// early finds nothing due.
func (d *deadlines) remove(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.kaSlot == 0 {
		return
	}
	slot := d.slots[c.kaSlot]
	last := len(slot) - 1
	if i := c.kaIndex; int(i) != last {
		slot[i] = slot[last]
		slot[i].kaIndex = i
	}
	slot[last] = nil
	if last == 0 {
		delete(d.slots, c.kaSlot)
	} else {
		d.slots[c.kaSlot] = slot[:last]
	}
	c.kaSlot = 0
}

// due unschedules and returns the connections whose deadline is at or
// before mono time now, and arms the timer for the earliest slot left.
func (d *deadlines) due(now time.Duration) []*conn {
	end := int64(now / slotLen)
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*conn
	first := int64(0)
	for s, slot := range d.slots {
		if s > end {
			if first == 0 || s < first {
				first = s
			}
			continue
		}
		for _, c := range slot {
			c.kaSlot = 0
			out = append(out, c)
		}
		delete(d.slots, s)
	}
	d.armed = 0
	if first != 0 {
		d.armLocked(first)
	}
	return out
}

// fire times out the connections that are due.
func (d *deadlines) fire() {
	for _, c := range d.due(d.srv.mono()) {
		c.unpark(unparkTimeout)
	}
}

// stop stops the timer for good.
func (d *deadlines) stop() {
	d.mu.Lock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	d.mu.Unlock()
}
