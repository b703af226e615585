package broker

import (
	"errors"
	"strings"
	"time"

	"github.com/midge-mqtt/midge/internal/connwrite"
	"github.com/midge-mqtt/midge/packet"
)

// outKind says what an outItem writes.
type outKind byte

const (
	outPublish outKind = iota // a PUBLISH of d (id and dup set for QoS 1/2)
	outPubrel                 // a PUBREL for id
	outAck                    // a PUBACK, PUBREC or PUBCOMP: ack, id, code
	outPacket                 // pkt
)

// outItem is one packet waiting to be written. Items are values so that
// queueing an acknowledgement or a delivery allocates nothing.
type outItem struct {
	kind outKind
	// at orders a control packet after the deliveries queued before it:
	// it is written once every delivery with a lower seq has been, unless
	// the in-flight window holds those back (acknowledgements never wait
	// for the window).
	at uint64
	// resend marks the CONNACK of a resumed session: in-flight messages are
	// resent right after it [MQTT-4.4.0-1].
	resend bool
	ack    packet.Type
	code   packet.ReasonCode
	id     uint16
	dup    bool
	d      delivery
	pkt    packet.Packet
}

// Batching bounds: one write carries at most this many packets or about
// this many bytes, so latency and buffer memory stay bounded under load.
const (
	maxBatchItems = 512
	maxBatchBytes = 64 << 10
)

// queueCtrl queues a control packet for the writer, after the deliveries
// queued so far. It drops it if the connection is closing.
func (c *conn) queueCtrl(it outItem) { c.queueCtrlAt(it, ^uint64(0)) }

// queueCtrlAt queues a control packet to be written after the deliveries
// queued before position at (a value of the session's enqSeq read earlier),
// or after all queued so far if at is later. Control packets keep their
// order among themselves.
func (c *conn) queueCtrlAt(it outItem, at uint64) {
	s := c.sess
	s.mu.Lock()
	if c.closing {
		s.mu.Unlock()
		return
	}
	it.at = min(at, s.enqSeq)
	c.ctrl = append(c.ctrl, it)
	s.mu.Unlock()
	c.wake()
}

// queueAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP.
func (c *conn) queueAck(t packet.Type, id uint16, code packet.ReasonCode) {
	c.queueCtrl(outItem{kind: outAck, ack: t, id: id, code: code})
}

// writeBuffers hold the write buffers of writers that ended.
var writeBuffers connwrite.Pool[outItem]

// writers starts writer goroutines without allocating (`go c.writeLoop()`
// allocates its closure, and a busy connection's writer is started again
// every few deliveries).
var writers connwrite.Starter[*conn]

// wake makes sure a writer goroutine will look at the queues. It never
// blocks on the network.
func (c *conn) wake() {
	if c.gate.Wake() {
		writers.Go((*conn).writeLoop, c)
	}
}

// writeLoop writes what is queued and returns when nothing is left.
func (c *conn) writeLoop() { connwrite.Run(&c.gate, &writeBuffers, (*connWriter)(c)) }

// connWriter is a conn as its writer sees it: a connwrite.Source.
type connWriter conn

// Collect collects the batch under the session's lock (collectLocked).
func (cw *connWriter) Collect(batch []outItem) ([]outItem, bool) {
	c := (*conn)(cw)
	c.sess.mu.Lock()
	defer c.sess.mu.Unlock()
	return c.collectLocked(batch), c.closing
}

// Write writes b, counted as written, as Mosquitto counts.
func (cw *connWriter) Write(b *connwrite.Buffer[outItem]) error {
	c := (*conn)(cw)
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.opt().writeTimeout))
	b.Flush(&c.srv.stats.Out)
	n, err := b.WriteTo(c.nc)
	c.srv.stats.BytesOut.Add(uint64(n))
	return err
}

// Encode, Close and Released are encode, close and memory.Released.
func (cw *connWriter) Encode(b *connwrite.Buffer[outItem], it *outItem) { (*conn)(cw).encode(b, it) }
func (cw *connWriter) Close()                                           { (*conn)(cw).close() }
func (cw *connWriter) Released()                                        { cw.srv.memory.Released() }

// collectLocked moves what may be written now into batch, in the order it
// was queued: control packets interleaved with deliveries, in-flight messages
// resent after a resumed session's CONNACK [MQTT-4.4.0-1], and deliveries of
// QoS 1 and 2 as far as the in-flight window allows. c.sess.mu must be held.
func (c *conn) collectLocked(batch []outItem) []outItem {
	s := c.sess
	if s.conn != c && !c.closing || c.hold {
		return batch // taken over, detached, or CONNACK not due yet
	}
	if c.closing {
		batch = append(batch, c.ctrl...)
		c.ctrl = nil
		return batch
	}
	bytes := 0
	n := 0
	for ; n < len(c.ctrl) && len(batch) < maxBatchItems && bytes < maxBatchBytes; n++ {
		it := &c.ctrl[n]
		var blocked bool
		batch, bytes, blocked = c.collectQueueLocked(batch, bytes, it.at)
		if !blocked && (len(batch) >= maxBatchItems || bytes >= maxBatchBytes) {
			break // deliveries before it remain: the item must wait for them
		}
		batch = append(batch, *it)
		if it.resend {
			batch = c.collectResendsLocked(batch)
		}
	}
	if n > 0 {
		rest := copy(c.ctrl, c.ctrl[n:])
		clear(c.ctrl[rest:])
		c.ctrl = c.ctrl[:rest]
		if rest == 0 {
			c.ctrl = nil // an idle connection keeps no queue memory
		}
	}
	if len(c.ctrl) == 0 {
		batch, _, _ = c.collectQueueLocked(batch, bytes, ^uint64(0))
	}
	return batch
}

// collectResendsLocked appends the in-flight messages not yet sent on this
// connection: PUBLISH with DUP, or PUBREL for QoS 2 messages whose PUBREC
// arrived.
func (c *conn) collectResendsLocked(batch []outItem) []outItem {
	for id, f := range c.sess.flight.All {
		if f.sent {
			continue
		}
		f.sent = true
		if f.state == awaitPubcomp {
			batch = append(batch, outItem{kind: outPubrel, id: id})
		} else {
			batch = append(batch, outItem{kind: outPublish, d: f.delivery, id: id, dup: f.dup})
			f.dup = true
		}
	}
	return batch
}

// collectQueueLocked appends queued deliveries with seq below before, while
// the batch has room. It reports whether it stopped because the in-flight
// window is full (the deliveries left then do not hold back control
// packets).
func (c *conn) collectQueueLocked(batch []outItem, bytes int, before uint64) ([]outItem, int, bool) {
	s := c.sess
	var now time.Time
	for s.queueLen() > 0 && len(batch) < maxBatchItems && bytes < maxBatchBytes {
		d := &s.queue[s.qhead]
		if s.seqOf(d) >= before {
			return batch, bytes, false
		}
		if !d.msg.Expiry.IsZero() && !d.dup {
			// A message sent before (in flight when its session went
			// offline) is not expired: onward delivery has started
			// [MQTT-3.3.2-5], [MQTT-4.3.3-7].
			if now.IsZero() {
				now = c.srv.now()
			}
			if d.msg.expired(now) {
				s.popLocked() // [MQTT-3.3.2-5]
				continue
			}
		}
		if d.qos > 0 && !s.windowOpenLocked(c, d) {
			return batch, bytes, true
		}
		bytes += len(d.msg.Topic) + d.msg.size() + 8
		if d.qos == 0 {
			batch = append(batch, outItem{kind: outPublish, d: s.popLocked()})
			continue
		}
		f, id := s.addInflightLocked(s.popLocked())
		if f.released {
			batch = append(batch, outItem{kind: outPubrel, id: id}) // after a restart [MQTT-4.4.0-1]
			continue
		}
		batch = append(batch, outItem{kind: outPublish, d: f.delivery, id: id, dup: f.delivery.dup || f.delivery.maybeSent})
		f.dup = true // any later send is a resend
	}
	return batch, bytes, false
}

// encode appends the packet for it to w.
func (c *conn) encode(w *connwrite.Buffer[outItem], it *outItem) {
	var p packet.Packet
	switch it.kind {
	case outPublish:
		c.encodePublish(w, it)
		return
	case outPubrel:
		w.Ack = packet.Ack{Kind: packet.TypePubrel, PacketID: it.id}
		p = &w.Ack
	case outAck:
		w.Ack = packet.Ack{Kind: it.ack, PacketID: it.id, ReasonCode: it.code}
		p = &w.Ack
	case outPacket:
		p = it.pkt
	}
	// Too large [MQTT-3.1.2-24]: our control packets carry no optional
	// properties to strip.
	if err := w.Append(p, c.version, c.maxOut); err != nil && !errors.Is(err, connwrite.ErrTooLarge) {
		c.srv.log.Error("encoding failed", "packet", p.Type(), "err", err)
	}
}

// encodePublish appends a PUBLISH for it.d to w, with this connection's topic alias, the remaining expiry and the subscription
// identifiers.
func (c *conn) encodePublish(w *connwrite.Buffer[outItem], it *outItem) {
	m := it.d.msg
	p := &w.Pub
	*p = packet.Publish{
		Dup:      it.dup,
		QoS:      it.d.qos,
		Retain:   it.d.retain,
		Topic:    strings.TrimPrefix(m.Topic, c.mount),
		PacketID: it.id,
		Payload:  m.Payload,
	}
	if c.version == packet.Version5 {
		if m.Properties != nil {
			p.Properties = *m.Properties
		}
		if !m.Expiry.IsZero() {
			p.Properties.SetUint(packet.PropMessageExpiry, m.remaining(c.srv.now())) // [MQTT-3.3.2-6]
		}
		p.Properties.SubscriptionIDs = nil
		if it.d.subID[0] != 0 {
			p.Properties.SubscriptionIDs = it.d.subID[:] // [MQTT-3.3.4-3]
		}
		c.aliasOut.Apply(p)
	}
	switch err := w.AppendPublish(p, c.version, c.maxOut, c.vectored); {
	case errors.Is(err, connwrite.ErrTooLarge):
		// [MQTT-3.1.2-25]: discard and behave as if sent; the client never
		// acknowledges it, so forget it.
		c.srv.stats.Dropped.Add(1)
		if it.id != 0 {
			c.forgetInflight(it.id)
		}
	case err != nil:
		c.srv.log.Error("encoding PUBLISH failed", "topic", m.Topic, "err", err)
	}
}

// forgetInflight drops the in-flight message id that could not be sent.
func (c *conn) forgetInflight(id uint16) {
	s := c.sess
	s.mu.Lock()
	s.removeInflightLocked(id)
	s.mu.Unlock()
}
