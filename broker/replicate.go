package broker

import (
	"fmt"
	"sync"

	"github.com/midge-mqtt/midge/packet"
)

// Replication (Config.Replicate): a client's QoS 1 and 2 message is
// acknowledged only once the hook has returned for it. The hook waits
// (on other nodes, say), so it runs on a goroutine of the connection's,
// started when an acknowledgement has to wait and ending when none is
// left; the acknowledgements keep the order of the PUBLISHes
// [MQTT-4.6.0-2], those that wait for nothing included.

// replQueue is a connection's acknowledgements waiting their turn.
type replQueue struct {
	mu      sync.Mutex // guards items, running; taken before the session's lock (ackPublish)
	items   []replItem // in PUBLISH order
	running bool       // replicateLoop runs
}

// replItem is an acknowledgement waiting its turn: for Config.Replicate
// first if replicate.
type replItem struct {
	m         *Message
	replicate bool
	qos       byte
	id        uint16
	code      packet.ReasonCode
}

// ackReplicated acknowledges a PUBLISH as ackPublish does, once
// Config.Replicate has returned for m if m is a QoS 1 or 2 message
// accepted for routing, and after the acknowledgements before it.
func (c *conn) ackReplicated(m *Message, qos byte, id uint16, code packet.ReasonCode) {
	if qos == 0 {
		return // nothing to acknowledge
	}
	replicate := c.srv.cfg.Replicate != nil && m != nil && !code.IsError()
	q := &c.repl
	q.mu.Lock()
	defer q.mu.Unlock()
	if !replicate && !q.running {
		c.ackPublish(qos, id, code) // under q.mu: in order with replicateLoop's
		return
	}
	q.items = append(q.items, replItem{m: m, replicate: replicate, qos: qos, id: id, code: code})
	if !q.running {
		q.running = true
		go c.replicateLoop()
	}
}

// replicateLoop acknowledges the queued PUBLISHes in order, each once
// Config.Replicate returned for it. An error leaves the message
// unacknowledged and closes the connection: the client sends it again
// after reconnecting [MQTT-4.4.0-1] (a PUBACK or PUBREC with an error code
// would tell it the message was refused, and MQTT 3.1.1 has none).
func (c *conn) replicateLoop() {
	q := &c.repl
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		it := q.items[0]
		q.mu.Unlock()
		var err error
		if it.replicate {
			err = c.srv.cfg.Replicate(&c.ctx, it.m)
		}
		q.mu.Lock()
		q.items[0] = replItem{}
		q.items = q.items[1:]
		if err != nil {
			// The connection ends: nothing after it is acknowledged either.
			clear(q.items)
			q.items = nil
			q.running = false
			q.mu.Unlock()
			if c.ctx.Err() == nil {
				c.srv.log.Warn(fmt.Sprintf("Client %s: message on %q not replicated, closing the connection: %v", c.client.ID, it.m.Topic, err))
				c.kick("replication failed", packet.ServerBusy)
			}
			return
		}
		c.ackPublish(it.qos, it.id, it.code)
		q.mu.Unlock()
	}
}
