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
// runtime timer of its own. A connection is in at most one slot. While any
// slot is filled, a timer fires every slotLen and times out the
// connections whose slot has come.
type deadlines struct {
	srv     *Server
	mu      sync.Mutex
	slots   map[int64][]*conn // by Server.mono / slotLen; guarded by mu
	next    int64             // the first slot due has not taken
	timer   *time.Timer       // runs fire while slots is non-empty
	stopped bool
}

// add schedules c to time out at mono time at, unless it is scheduled.
func (d *deadlines) add(c *conn, at time.Duration) {
	s := int64((at + slotLen - 1) / slotLen) // the first slot at or after at
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.kaSlot != 0 {
		return
	}
	if d.slots == nil {
		d.slots = make(map[int64][]*conn)
	}
	if len(d.slots) == 0 {
		d.next = s
		if !d.stopped {
			wait := time.Duration(s)*slotLen - d.srv.mono()
			if d.timer == nil {
				d.timer = time.AfterFunc(wait, d.fire)
			} else {
				d.timer.Reset(wait)
			}
		}
	}
	d.next = min(d.next, s)
	c.kaSlot, c.kaIndex = s, int32(len(d.slots[s]))
	d.slots[s] = append(d.slots[s], c)
}

// remove unschedules c if it is scheduled.
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
// before mono time now.
func (d *deadlines) due(now time.Duration) []*conn {
	end := int64(now / slotLen)
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*conn
	for ; d.next <= end && len(d.slots) > 0; d.next++ {
		for _, c := range d.slots[d.next] {
			c.kaSlot = 0
			out = append(out, c)
		}
		delete(d.slots, d.next)
	}
	return out
}

// fire times out the connections that are due and keeps the timer going
// while others wait.
func (d *deadlines) fire() {
	for _, c := range d.due(d.srv.mono()) {
		c.unpark(unparkTimeout)
	}
	d.mu.Lock()
	if len(d.slots) > 0 && !d.stopped {
		d.timer.Reset(slotLen)
	}
	d.mu.Unlock()
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
