package broker

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/internal/memreturn"
	"github.com/midge-mqtt/midge/internal/pubcodec"
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

// writeScratch is what a running writer needs: a write buffer, the batch
// and packets reused for encoding. Writers take one from a pool and give it
// back when they end, so an idle connection holds none.
type writeScratch struct {
	buf []byte
	// vec, for a batch with a large payload, is what to write: parts of
	// buf and payloads, which are written from the message, not copied;
	// buf[mark:] is what follows the last of them.
	vec   net.Buffers
	mark  int
	large bool // a large payload was written: memory may be returned
	batch []outItem
	pub   packet.Publish // reused for every PUBLISH written
	ack   packet.Ack     // reused for every acknowledgement written
	// Counters for $SYS of the batch being encoded, added to the server's
	// once per write.
	msgs, pubs, pubBytes uint64
	types                [16]uint32 // packets by type
}

// flush adds the batch's counters to st.
func (w *writeScratch) flush(st *stats) {
	if w.msgs == 0 {
		return
	}
	st.msgsOut.Add(w.msgs)
	flushTypes(&w.types, &st.typesOut)
	if w.pubs > 0 {
		st.pubOut.Add(w.pubs)
		st.pubBytesOut.Add(w.pubBytes)
	}
	w.msgs, w.pubs, w.pubBytes = 0, 0, 0
}

// write writes the encoded batch to nc.
func (w *writeScratch) write(nc net.Conn) (int64, error) {
	if len(w.vec) == 0 {
		n, err := nc.Write(w.buf)
		return int64(n), err
	}
	if w.mark < len(w.buf) {
		w.vec = append(w.vec, w.buf[w.mark:])
	}
	v := w.vec
	n, err := v.WriteTo(nc) // writev on TCP
	clear(w.vec)
	w.vec, w.mark = w.vec[:0], 0
	return n, err
}

// largePayload is the payload size from which a PUBLISH's payload is
// written from the message rather than copied into the write buffer.
const largePayload = 64 << 10

// vectored reports whether payloads may be written separately from their
// packet's header on nc: a byte stream, not a WebSocket, whose every write
// is a message of its own.
func vectored(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn, *tls.Conn:
		return true
	}
	return false
}

var writeScratches = sync.Pool{New: func() any { return &writeScratch{buf: make([]byte, 0, 16<<10)} }}

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

// wake makes sure a writer goroutine will look at the queues. It never
// blocks on the network.
func (c *conn) wake() {
	c.wmu.Lock()
	switch {
	case c.dead:
	case c.writing:
		c.dirty = true
	default:
		c.writing = true
		go c.writeLoop()
	}
	c.wmu.Unlock()
}

// writeLoop writes what is queued and returns when nothing is left.
func (c *conn) writeLoop() {
	w := writeScratches.Get().(*writeScratch)
	c.w = w
	// release gives back the scratch; it must run before the writer
	// announces its end, when another writer may start.
	release := func() {
		w.flush(&c.srv.stats)
		clear(w.batch)
		w.batch = w.batch[:0]
		w.pub = packet.Publish{}
		clear(w.vec)
		w.vec, w.mark = w.vec[:0], 0
		if w.large {
			w.large = false
			c.srv.memory.Released()
		}
		c.w = nil
		if cap(w.buf) <= 256<<10 {
			w.buf = w.buf[:0]
			writeScratches.Put(w)
		}
	}
	s := c.sess
	for {
		c.wmu.Lock()
		c.dirty = false
		c.wmu.Unlock()

		s.mu.Lock()
		w.batch = c.collectLocked(w.batch[:0])
		closing := c.closing
		s.mu.Unlock()

		if len(w.batch) > 0 {
			w.buf = w.buf[:0]
			for i := range w.batch {
				w.buf = c.encode(w.buf, &w.batch[i])
			}
			clear(w.batch)
			if len(w.buf) > 0 || len(w.vec) > 0 {
				c.nc.SetWriteDeadline(time.Now().Add(c.srv.opt().writeTimeout))
				w.flush(&c.srv.stats) // counted as written, as Mosquitto counts
				n, err := w.write(c.nc)
				c.srv.stats.bytesOut.Add(uint64(n))
				if err != nil {
					c.close()
					release()
					c.exitWriter()
					return
				}
			}
			continue
		}
		if closing {
			c.close() // the DISCONNECT is written
		}
		c.wmu.Lock()
		if c.dirty && !c.dead {
			c.wmu.Unlock()
			continue
		}
		release()
		c.writerExitedLocked()
		c.wmu.Unlock()
		return
	}
}

// exitWriter marks the writer gone after a write error.
func (c *conn) exitWriter() {
	c.wmu.Lock()
	c.dead = true
	c.writerExitedLocked()
	c.wmu.Unlock()
}

// writerExitedLocked marks the writer gone and wakes finish if it waits
// for that. c.wmu must be held.
func (c *conn) writerExitedLocked() {
	c.writing = false
	if c.writerGone != nil {
		close(c.writerGone)
		c.writerGone = nil
	}
}

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
	for _, f := range c.sess.order {
		if f.done || f.sent {
			continue
		}
		f.sent = true
		if f.state == awaitPubcomp {
			batch = append(batch, outItem{kind: outPubrel, id: f.id})
		} else {
			batch = append(batch, outItem{kind: outPublish, d: f.delivery, id: f.id, dup: f.dup})
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
		if d.seq >= before {
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
		f := s.addInflightLocked(s.popLocked())
		if f.released {
			batch = append(batch, outItem{kind: outPubrel, id: f.id}) // after a restart [MQTT-4.4.0-1]
			continue
		}
		batch = append(batch, outItem{kind: outPublish, d: f.delivery, id: f.id, dup: f.delivery.dup || f.delivery.maybeSent})
		f.dup = true // any later send is a resend
	}
	return batch, bytes, false
}

// encode appends the packet for it to buf.
func (c *conn) encode(buf []byte, it *outItem) []byte {
	var p packet.Packet
	switch it.kind {
	case outPublish:
		return c.encodePublish(buf, it)
	case outPubrel:
		c.w.ack = packet.Ack{Kind: packet.TypePubrel, PacketID: it.id}
		p = &c.w.ack
	case outAck:
		c.w.ack = packet.Ack{Kind: it.ack, PacketID: it.id, ReasonCode: it.code}
		p = &c.w.ack
	case outPacket:
		p = it.pkt
	}
	if c.maxOut > 0 && packet.Size(p, c.version) > c.maxOut {
		return buf // [MQTT-3.1.2-24]; our control packets carry no optional properties to strip
	}
	out, err := packet.Append(buf, p, c.version)
	if err != nil {
		c.srv.log.Error("encoding failed", "packet", p.Type(), "err", err)
		return buf
	}
	c.w.msgs++
	c.w.types[p.Type()&15]++
	return out
}

// encodePublish appends a PUBLISH for it.d to buf, with this connection's
// topic alias, the remaining expiry and the subscription identifiers.
func (c *conn) encodePublish(buf []byte, it *outItem) []byte {
	m := it.d.msg
	p := &c.w.pub
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
		p.Properties.SubscriptionIDs = it.d.subIDs // [MQTT-3.3.4-3]
		c.applyAlias(p)
	}
	if c.maxOut > 0 && packet.Size(p, c.version) > c.maxOut {
		// [MQTT-3.1.2-25]: discard and behave as if sent; the client never
		// acknowledges it, so forget it.
		c.srv.stats.dropped.Add(1)
		if it.id != 0 {
			c.forgetInflight(it.id)
		}
		return buf
	}
	var out []byte
	var err error
	if len(p.Payload) >= largePayload && c.vectored {
		// The header goes into buf, the payload is written from where it
		// is: the broker holds one copy of a large message.
		payload := p.Payload
		p.Payload = nil
		out, err = packet.Append(buf, p, c.version)
		if err == nil {
			out = pubcodec.AddRemaining(out, len(buf), len(payload))
			c.w.vec = append(c.w.vec, out[c.w.mark:], payload)
			c.w.mark = len(out)
			c.w.large = c.w.large || len(payload) >= memreturn.Large
		}
		p.Payload = payload
	} else {
		out, err = packet.Append(buf, p, c.version)
	}
	if err != nil {
		c.srv.log.Error("encoding PUBLISH failed", "topic", m.Topic, "err", err)
		return buf
	}
	c.w.msgs++
	c.w.types[packet.TypePublish]++
	c.w.pubs++
	c.w.pubBytes += uint64(len(m.Payload))
	return out
}

// applyAlias uses a topic alias for p if the client allows them: a topic
// gets the next free alias the first time it is sent; after that only the
// alias is sent [MQTT-3.3.2-?] (3.3.2.3.4). Aliases are never reassigned.
func (c *conn) applyAlias(p *packet.Publish) {
	if c.aliasMaxOut == 0 {
		return
	}
	if a, ok := c.aliasOut[p.Topic]; ok {
		p.Properties.SetUint(packet.PropTopicAlias, uint32(a))
		p.Topic = ""
		return
	}
	if len(c.aliasOut) < int(c.aliasMaxOut) {
		if c.aliasOut == nil {
			c.aliasOut = make(map[string]uint16)
		}
		a := uint16(len(c.aliasOut) + 1)
		c.aliasOut[p.Topic] = a
		p.Properties.SetUint(packet.PropTopicAlias, uint32(a))
	}
}

// forgetInflight drops the in-flight message id that could not be sent.
func (c *conn) forgetInflight(id uint16) {
	s := c.sess
	s.mu.Lock()
	if f := s.byID[id]; f != nil {
		s.removeInflightLocked(f)
	}
	s.mu.Unlock()
}
