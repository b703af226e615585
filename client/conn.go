package client

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Write buffering: packets are encoded into a buffer under wmu and a writer
// goroutine hands the whole buffer to the network in one Write, so a burst
// of publishes costs one system call. Senders wait while more than
// writeHighWater bytes are pending; the writer keeps buffers up to
// maxKeptWriteBuffer for reuse.
const (
	writeHighWater     = 256 << 10
	maxKeptWriteBuffer = 1 << 20
	readBufferSize     = 16 << 10
)

// conn is one network connection of a Client: the reader (run by the
// Client's run goroutine), the writer goroutine and the keep alive.
type conn struct {
	c     *Client
	nc    net.Conn
	v     byte
	r     *packet.Reader // reader goroutine only
	start time.Time      // base of the nanosecond clocks below

	// Limits the server announced in CONNACK; set before the connection is
	// shared, read-only after.
	keepAlive   time.Duration // 0: none
	pingTimeout time.Duration
	maxPacket   int    // 0: no limit
	aliasMax    uint16 // the server's Topic Alias Maximum
	maxQoS      byte
	retainOK    bool

	wmu       sync.Mutex
	buf       []byte            // guarded by wmu: encoded packets not yet taken by the writer
	spare     []byte            // guarded by wmu: the writer's previous buffer, for reuse
	werr      error             // guarded by wmu: sticky; set once the connection failed
	signaled  bool              // guarded by wmu: the writer has been woken for buf
	fw        *flushWait        // guarded by wmu: closed once buf is written; lazily made
	space     chan struct{}     // guarded by wmu: closed when the writer takes buf; lazily made
	pub       packet.Publish    // guarded by wmu: scratch for encoding, so encoding does not allocate
	ack       packet.Ack        // guarded by wmu: scratch
	aliasOut  []string          // guarded by wmu: the topic of each alias set on this connection, index alias-1
	autoAlias map[string]uint16 // guarded by wmu: AutoTopicAlias's topic to alias
	aliasNext uint16            // guarded by wmu: the next alias AutoTopicAlias may take

	wake       chan struct{} // capacity 1: wakes the writer
	writerDone chan struct{} // closed when the writer goroutine has returned

	aliasIn   []string     // reader only: the server's topic aliases, index alias-1
	rack      packet.Ack   // reader only: scratch for shortAck
	inUnacked atomic.Int32 // QoS 1/2 messages received and not yet acknowledged to the end

	lastSent atomic.Int64 // clock() of the last write
	lastRecv atomic.Int64 // clock() of the last packet read
	pingSent atomic.Int64 // clock() of the unanswered PINGREQ; 0: none

	failOnce sync.Once
	err      error         // why the connection ended; set before closed is closed
	closed   chan struct{} // closed when the connection has failed or been closed
}

// flushWait lets a sender wait until its bytes have reached the network.
type flushWait struct {
	done chan struct{}
	err  error // set before done is closed
}

func newConn(c *Client, nc net.Conn) *conn {
	cn := &conn{
		c:          c,
		nc:         nc,
		v:          c.s.version,
		r:          packet.NewReader(nc, readBufferSize),
		start:      time.Now(),
		wake:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
		closed:     make(chan struct{}),
		maxQoS:     2,
		retainOK:   true,
	}
	cn.r.Version = cn.v
	cn.r.MaxSize = c.s.maxRead
	return cn
}

// clock returns the nanoseconds since the connection started, plus one so
// that 0 can mean "never".
func (cn *conn) clock() int64 { return int64(time.Since(cn.start)) + 1 }

// setLimits applies what the server announced in its CONNACK.
func (cn *conn) setLimits(ack *packet.Connack) {
	s := &cn.c.s
	cn.keepAlive = time.Duration(s.keepAlive) * time.Second
	if cn.v == packet.Version5 {
		p := &ack.Properties
		if p.Has(packet.PropServerKeepAlive) {
			cn.keepAlive = time.Duration(p.ServerKeepAlive) * time.Second // [MQTT-3.2.2-21]
		}
		if p.Has(packet.PropMaximumPacketSize) {
			cn.maxPacket = int(min(p.MaximumPacketSize, packet.MaxRemainingLength+5))
		}
		if p.Has(packet.PropTopicAliasMaximum) {
			cn.aliasMax = p.TopicAliasMaximum
		}
		if p.Has(packet.PropMaximumQoS) {
			cn.maxQoS = p.MaximumQoS
		}
		if p.Has(packet.PropRetainAvailable) {
			cn.retainOK = p.RetainAvailable == 1
		}
	}
	cn.pingTimeout = s.pingTimeout
	if cn.pingTimeout <= 0 {
		cn.pingTimeout = cn.keepAlive
	}
	now := cn.clock()
	cn.lastSent.Store(now)
	cn.lastRecv.Store(now)
}

// fail ends the connection with err (the first error wins): it closes the
// network connection, which stops the reader and the writer, fails
// senders waiting for a flush and detaches the connection from its Client.
// It must not be called with c.mu or cn.wmu held.
func (cn *conn) fail(err error) {
	cn.failOnce.Do(func() {
		// Detach first: whoever holds c.mu with c.cn == cn may then rely on
		// the connection not having failed yet, so what it queues is
		// either written or resent on the next connection.
		cn.c.detach(cn)
		cn.err = err
		cn.wmu.Lock()
		cn.werr = err
		if fw := cn.fw; fw != nil {
			fw.err = err
			close(fw.done)
			cn.fw = nil
		}
		if sp := cn.space; sp != nil {
			close(sp)
			cn.space = nil
		}
		cn.wmu.Unlock()
		close(cn.closed)
		cn.nc.Close()
	})
}

// appendLocked encodes p into the write buffer and wakes the writer.
// cn.wmu must be held.
func (cn *conn) appendLocked(p packet.Packet) error {
	if cn.werr != nil {
		return cn.werr
	}
	b, err := packet.Append(cn.buf, p, cn.v)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	cn.buf = b
	if h := cn.c.s.OnPacket; h != nil {
		h(Sent, p)
	}
	if !cn.signaled {
		cn.signaled = true
		select {
		case cn.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// send queues p for writing.
func (cn *conn) send(p packet.Packet) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	return cn.appendLocked(p)
}

// sendAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP. An error means the
// connection is gone; the server will resend what it concerns.
func (cn *conn) sendAck(kind packet.Type, id uint16, code packet.ReasonCode) {
	cn.wmu.Lock()
	cn.ack = packet.Ack{Kind: kind, PacketID: id, ReasonCode: code}
	cn.appendLocked(&cn.ack)
	cn.wmu.Unlock()
	if kind == packet.TypePuback || kind == packet.TypePubcomp {
		for n := cn.inUnacked.Load(); n > 0 && !cn.inUnacked.CompareAndSwap(n, n-1); n = cn.inUnacked.Load() {
		}
	}
}

// flushWaitLocked returns the flushWait of the bytes buffered so far.
// cn.wmu must be held.
func (cn *conn) flushWaitLocked() *flushWait {
	if cn.fw == nil {
		cn.fw = &flushWait{done: make(chan struct{})}
		if cn.werr != nil {
			cn.fw.err = cn.werr
			close(cn.fw.done)
			fw := cn.fw
			cn.fw = nil
			return fw
		}
	}
	return cn.fw
}

// spaceLocked returns nil if a sender may add to the buffer now, or a
// channel closed when it may try again. cn.wmu must be held.
func (cn *conn) spaceLocked() chan struct{} {
	if len(cn.buf) < writeHighWater || cn.werr != nil {
		return nil
	}
	return nextBroadcast(&cn.space)
}

// writeLoop is the connection's only writer. It also runs the keep alive.
func (cn *conn) writeLoop() {
	defer close(cn.writerDone)
	var tick <-chan time.Time
	var timer *time.Timer
	if cn.keepAlive > 0 {
		timer = time.NewTimer(cn.keepAlive)
		defer timer.Stop()
		tick = timer.C
	}
	wt := cn.c.s.writeTimeout
	for {
		select {
		case <-cn.wake:
		case <-tick:
			if err := cn.keepAliveTick(timer); err != nil {
				cn.fail(fmt.Errorf("%w: %w", ErrConnectionLost, err))
				return
			}
			continue
		case <-cn.closed:
			return
		}
		cn.wmu.Lock()
		buf := cn.buf
		cn.buf, cn.spare = cn.spare[:0], nil
		fw, sp := cn.fw, cn.space
		cn.fw, cn.space = nil, nil
		cn.signaled = false
		cn.wmu.Unlock()
		if sp != nil {
			close(sp)
		}
		var err error
		if len(buf) > 0 {
			cn.nc.SetWriteDeadline(time.Now().Add(wt))
			_, err = cn.nc.Write(buf)
			cn.lastSent.Store(cn.clock())
		}
		if err != nil {
			err = fmt.Errorf("%w: write: %w", ErrConnectionLost, err)
		}
		if fw != nil {
			fw.err = err
			close(fw.done)
		}
		if err != nil {
			cn.fail(err)
			return
		}
		if cap(buf) <= maxKeptWriteBuffer {
			cn.wmu.Lock()
			if cn.spare == nil {
				cn.spare = buf[:0]
			}
			cn.wmu.Unlock()
		}
	}
}

// keepAliveTick sends PINGREQ when nothing was sent or received for the
// keep alive interval [MQTT-3.1.2-23], fails when a PINGREQ went unanswered
// for the ping timeout, and sets the timer for the next check.
func (cn *conn) keepAliveTick(t *time.Timer) error {
	now := cn.clock()
	ka := int64(cn.keepAlive)
	ps := cn.pingSent.Load()
	switch {
	case ps != 0 && now-ps >= int64(cn.pingTimeout):
		return ErrPingTimeout
	case ps == 0 && (now-cn.lastSent.Load() >= ka || now-cn.lastRecv.Load() >= ka):
		ps = now
		cn.pingSent.Store(ps)
		if err := cn.send(&packet.Pingreq{}); err != nil {
			return err
		}
	}
	next := min(cn.lastSent.Load(), cn.lastRecv.Load()) + ka
	if ps != 0 {
		next = ps + int64(cn.pingTimeout)
	}
	t.Reset(max(time.Duration(next-now), time.Millisecond))
	return nil
}

// readLoop reads and handles packets until the connection fails. It
// returns why.
func (cn *conn) readLoop() error {
	c := cn.c
	hook := c.s.OnPacket
	for {
		h, err := cn.r.ReadHeader()
		if err != nil {
			return cn.readError(err)
		}
		body, err := cn.r.ReadBody(h)
		if err != nil {
			return cn.readError(err)
		}
		cn.lastRecv.Store(cn.clock())
		if h.Type == packet.TypePublish {
			m := new(Message)
			if err := (*packet.Publish)(m).Decode(h.Flags, body, cn.v); err != nil {
				return cn.protocolError(err)
			}
			if hook != nil {
				hook(Received, (*packet.Publish)(m))
			}
			if err := cn.handlePublish(m); err != nil {
				return cn.protocolError(err)
			}
			continue
		}
		var p packet.Packet
		if a := cn.shortAck(h, body); a != nil {
			p = a // the common acknowledgement, decoded without allocating
		} else if p, err = packet.Decode(h, body, cn.v); err != nil {
			return cn.protocolError(err)
		}
		if hook != nil {
			hook(Received, p)
		}
		if err := cn.handle(p); err != nil {
			return cn.protocolError(err)
		}
	}
}

// shortAck decodes a PUBACK, PUBREC, PUBREL or PUBCOMP without properties
// into a scratch Ack, valid until the next packet, so that the
// acknowledgements of a stream of publishes cost no allocation. It returns
// nil for anything else, including every malformed acknowledgement, which
// packet.Decode then reports.
func (cn *conn) shortAck(h packet.FixedHeader, body []byte) *packet.Ack {
	if h.Type < packet.TypePuback || h.Type > packet.TypePubcomp || len(body) < 2 {
		return nil
	}
	if flags := h.Flags; h.Type == packet.TypePubrel && flags != 0x02 || h.Type != packet.TypePubrel && flags != 0 {
		return nil
	}
	id := uint16(body[0])<<8 | uint16(body[1])
	code := packet.Success
	switch {
	case id == 0:
		return nil
	case len(body) == 2:
	case cn.v == packet.Version5 && (len(body) == 3 || len(body) == 4 && body[3] == 0):
		// A reason code, and maybe an empty property length (3.4.2.1).
		code = packet.ReasonCode(body[2])
		if !code.ValidFor(h.Type, cn.v) {
			return nil
		}
	default:
		return nil
	}
	cn.rack = packet.Ack{Kind: h.Type, PacketID: id, ReasonCode: code}
	return &cn.rack
}

// readError turns a read error into the connection's end.
func (cn *conn) readError(err error) error {
	var pe *packet.Error
	if errors.As(err, &pe) {
		return cn.protocolError(err) // too large, malformed header
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// protocolError ends the connection because of err. For a violation by the
// server in MQTT 5 it first sends DISCONNECT with the reason code
// [MQTT-4.13.1-1]; a DISCONNECT from the server is passed on as it is.
func (cn *conn) protocolError(err error) error {
	var re *ReasonError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	var pe *packet.Error
	if errors.As(err, &pe) && cn.v == packet.Version5 {
		cn.wmu.Lock()
		werr := cn.appendLocked(&packet.Disconnect{ReasonCode: pe.Code})
		fw := cn.flushWaitLocked()
		cn.wmu.Unlock()
		if werr == nil {
			t := time.NewTimer(time.Second)
			select {
			case <-fw.done:
			case <-t.C:
			}
			t.Stop()
		}
	}
	cn.c.s.log.Warn("protocol error from server", "err", err)
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// handlePublish resolves a topic alias and hands m to the application.
func (cn *conn) handlePublish(m *Message) error {
	c := cn.c
	if cn.v == packet.Version5 && m.Properties.Has(packet.PropTopicAlias) {
		a := m.Properties.TopicAlias
		if a == 0 || a > c.s.aliasMax {
			// [MQTT-3.3.2-9], [MQTT-3.3.2-10]
			return &packet.Error{Code: packet.TopicAliasInvalid, Reason: fmt.Sprintf("topic alias %d above the maximum %d", a, c.s.aliasMax)}
		}
		if cn.aliasIn == nil {
			cn.aliasIn = make([]string, c.s.aliasMax)
		}
		if m.Topic == "" {
			m.Topic = cn.aliasIn[a-1]
			if m.Topic == "" {
				return &packet.Error{Code: packet.ProtocolError, Reason: fmt.Sprintf("PUBLISH with unknown topic alias %d", a)}
			}
		} else {
			cn.aliasIn[a-1] = m.Topic
		}
		// The alias belongs to this connection: the application gets the
		// topic, and can publish the Message again as it is.
		m.Properties.Clear(packet.PropTopicAlias)
	}
	if m.QoS == 0 {
		return c.deliver(cn, item{m: m})
	}
	if c.s.version == packet.Version5 && c.s.Properties.Has(packet.PropReceiveMaximum) &&
		cn.inUnacked.Add(1) > int32(c.s.Properties.ReceiveMaximum) {
		return &packet.Error{Code: packet.ReceiveMaximumExceeded, Reason: "server exceeded the Receive Maximum"} // [MQTT-3.3.4-9]
	}
	kind := packet.TypePuback
	if m.QoS == 2 {
		kind = packet.TypePubrec
		c.mu.Lock()
		_, dup := c.qos2In[m.PacketID]
		if !dup {
			c.qos2In[m.PacketID] = struct{}{}
		}
		c.mu.Unlock()
		if dup {
			// Received before and not yet released: delivered (or queued
			// for delivery) already. Only acknowledge it again, after the
			// first delivery if acknowledgements wait for the handler.
			cn.inUnacked.Add(-1)
			if c.s.AckOnReceipt || !c.dispatching {
				cn.sendAck(kind, m.PacketID, packet.Success)
				return nil
			}
			return c.deliver(cn, item{cn: cn, ack: kind, id: m.PacketID})
		}
	}
	if c.s.AckOnReceipt || c.s.OnMessage == nil {
		cn.sendAck(kind, m.PacketID, packet.Success)
		return c.deliver(cn, item{m: m})
	}
	return c.deliver(cn, item{m: m, cn: cn, ack: kind, id: m.PacketID})
}

// handle acts on a packet other than PUBLISH.
func (cn *conn) handle(p packet.Packet) error {
	c := cn.c
	switch p := p.(type) {
	case *packet.Ack:
		if p.Kind == packet.TypePubrel {
			c.mu.Lock()
			_, known := c.qos2In[p.PacketID]
			delete(c.qos2In, p.PacketID)
			c.mu.Unlock()
			code := packet.Success
			if !known && cn.v == packet.Version5 {
				code = packet.PacketIdentifierNotFound
			}
			cn.sendAck(packet.TypePubcomp, p.PacketID, code) // [MQTT-4.3.3-11]
			return nil
		}
		c.handleAck(cn, p)
	case *packet.Suback:
		c.handleResponse(p.PacketID, packet.TypeSuback, p)
	case *packet.Unsuback:
		c.handleResponse(p.PacketID, packet.TypeUnsuback, p)
	case *packet.Pingresp:
		cn.pingSent.Store(0)
	case *packet.Disconnect:
		if cn.v != packet.Version5 {
			return &packet.Error{Code: packet.ProtocolError, Reason: "DISCONNECT from the server before MQTT 5"}
		}
		return &ReasonError{Type: packet.TypeDisconnect, Code: p.ReasonCode, Properties: p.Properties}
	case *packet.Auth:
		if c.s.OnAuth == nil {
			return &packet.Error{Code: packet.ProtocolError, Reason: "AUTH from the server and no Options.OnAuth"}
		}
		reply, err := c.s.OnAuth(p)
		if err != nil {
			return &packet.Error{Code: packet.NotAuthorized, Reason: "authentication: " + err.Error()}
		}
		if reply != nil {
			return cn.send(reply)
		}
	default:
		return &packet.Error{Code: packet.ProtocolError, Reason: p.Type().String() + " sent by the server"}
	}
	return nil
}
