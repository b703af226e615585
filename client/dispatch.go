package client

import (
	"sync"

	"github.com/midge-mqtt/midge/packet"
)

// item is one thing for the dispatcher to do, in order: hand a message to
// OnMessage, then send its acknowledgement; or run an event callback.
type item struct {
	m   *Message
	cn  *conn       // where to acknowledge
	ack packet.Type // 0, packet.TypePuback or packet.TypePubrec
	id  uint16
	fn  func()
}

// inbox is the queue from the reader (and the connection manager) to the
// dispatcher goroutine.
type inbox struct {
	mu    sync.Mutex
	items []item        // guarded by mu
	spare []item        // guarded by mu
	qos0  int           // guarded by mu: QoS 0 messages in items
	max   int           // most QoS 0 messages queued before the reader waits
	space chan struct{} // guarded by mu: closed when the dispatcher takes items; lazily made
	ended bool          // guarded by mu: no more items will come
	ready chan struct{} // capacity 1: wakes the dispatcher
}

func (q *inbox) init(max int) {
	q.max = max
	q.ready = make(chan struct{}, 1)
}

// put queues it, waiting while too many QoS 0 messages are queued. It
// gives up (dropping it) if cn fails meanwhile.
func (q *inbox) put(cn *conn, it item) {
	q.mu.Lock()
	for it.m != nil && it.m.QoS == 0 && q.qos0 >= q.max {
		if !unlockAndWait(&q.mu, nextBroadcast(&q.space), cn.closed) {
			return
		}
		q.mu.Lock()
	}
	q.addLocked(it)
	q.mu.Unlock()
}

func (q *inbox) addLocked(it item) {
	if q.ended {
		return
	}
	q.items = append(q.items, it)
	if it.m != nil && it.m.QoS == 0 {
		q.qos0++
	}
	if len(q.items) == 1 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
}

// event queues a callback.
func (q *inbox) event(fn func()) {
	q.mu.Lock()
	q.addLocked(item{fn: fn})
	q.mu.Unlock()
}

// close tells the dispatcher that nothing more will come.
func (q *inbox) close() {
	q.mu.Lock()
	q.ended = true
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// deliver hands a message (or an acknowledgement to send after the
// messages before it) to the dispatcher, or when there is none sends the
// acknowledgement at once.
func (c *Client) deliver(cn *conn, it item) error {
	if !c.dispatching || it.m != nil && c.s.OnMessage == nil {
		if it.ack != 0 {
			it.cn.sendAck(it.ack, it.id, packet.Success)
		}
		return nil
	}
	c.inbox.put(cn, it)
	return nil
}

// dispatch runs OnMessage and the event callbacks, in order, until the
// client has ended and the queue is empty. Once the application closed the
// client, messages are dropped instead (their acknowledgements too, so a
// persistent session gets them again).
func (c *Client) dispatch() {
	defer c.exit()
	q := &c.inbox
	for {
		q.mu.Lock()
		for len(q.items) == 0 {
			if q.ended {
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			<-q.ready
			q.mu.Lock()
		}
		batch := q.items
		q.items, q.spare = q.spare[:0], nil
		q.qos0 = 0
		sp := q.space
		q.space = nil
		q.mu.Unlock()
		if sp != nil {
			close(sp)
		}
		for i := range batch {
			it := &batch[i]
			switch {
			case it.fn != nil:
				it.fn()
			case c.closingFast.Load():
			default:
				if it.m != nil {
					c.s.OnMessage(it.m)
				}
				if it.ack != 0 {
					it.cn.sendAck(it.ack, it.id, packet.Success)
				}
			}
			*it = item{}
		}
		q.mu.Lock()
		q.spare = batch[:0]
		q.mu.Unlock()
	}
}
