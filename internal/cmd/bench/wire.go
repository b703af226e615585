package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/periodic"
	"github.com/midge-mqtt/midge/packet"
)

// The wire engine: MQTT over TCP or TLS, written and read straight with
// package packet, for midge bench's own connections. It exists because
// package client, built for applications, costs the load generator more
// than the broker under test spends on the same message: in fan-out at
// QoS 0 to midge, a subscriber on client used 0.43 µs of CPU per delivery
// (its core saturated at 2.3 M deliveries/s; half of it allocation and GC
// for the Message, topic and payload, and the hand-off to the OnMessage
// goroutine) where reading the packets in place costs 0.17 µs. Here a
// publisher encodes into a buffer it writes itself, and a subscriber's one
// goroutine reads PUBLISH packets without copying and batches its
// acknowledgements. The client engine (bench_client.go) carries WebSocket.

// wireBufSize is the read buffer of connections that carry messages, and
// the size at which a publisher's pending output is written.
const wireBufSize = 64 << 10

// wireAckBatch is how many acknowledgements a reader keeps before it
// writes them even though more packets are buffered.
const wireAckBatch = 64

// wireConn is one connection of the wire engine. A single goroutine reads
// (r); writers share out under wmu.
type wireConn struct {
	nc  net.Conn
	r   *packet.Reader // the reading goroutine's
	v   byte
	ack *packet.Connack

	keepAlive time.Duration // 0: no PINGREQ
	maxQoS    byte
	recvMax   int // the server's Receive Maximum (65535 if it sent none)

	wmu     sync.Mutex
	out     []byte       // guarded by wmu: encoded packets not yet written
	werr    error        // guarded by wmu: sticky write error
	lastOut atomic.Int64 // benchNow() of the last write
	closed  atomic.Bool
}

// dialer opens connections to one broker, for both engines.
type dialer struct {
	o   *options
	t   *target     // the broker dialed: &o.target, or o.subTarget
	tls *tls.Config // t's TLS configuration (nil without TLS)
}

// newDialer dials the target (-h/-p or -L).
func newDialer(o *options) *dialer {
	return &dialer{o: o, t: &o.target, tls: o.tlsConf}
}

// newSubDialer dials the subscribers' broker: --sub-L, or the target.
func newSubDialer(o *options) *dialer {
	if o.subTarget == nil {
		return newDialer(o)
	}
	return &dialer{o: o, t: o.subTarget, tls: o.subTLS}
}

// netConn opens the byte stream for client number i: TCP from the i-th
// source address (round robin), and the TLS handshake if the target wants
// TLS. It does not speak MQTT.
func (d *dialer) netConn(ctx context.Context, i int) (net.Conn, error) {
	var nd net.Dialer
	if src := d.o.srcAddrs; len(src) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: src[i%len(src)]}
	}
	nc, err := nd.DialContext(ctx, "tcp", d.t.addr)
	if err != nil {
		return nil, err
	}
	if d.t.scheme != "tls" {
		return nc, nil
	}
	tc := tls.Client(nc, d.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// connectPacket is the CONNECT for client id.
func (d *dialer) connectPacket(id string) *packet.Connect {
	o := d.o
	cp := &packet.Connect{
		ProtocolVersion: o.version,
		CleanStart:      o.clean,
		KeepAlive:       uint16(o.keepAlive),
		ClientID:        id,
		HasUsername:     o.username != "",
		Username:        o.username,
		HasPassword:     o.hasPassword,
	}
	if o.hasPassword {
		cp.Password = []byte(o.password)
	}
	if o.version == packet.Version5 && o.sessionExpiry > 0 {
		cp.Properties.SetUint(packet.PropSessionExpiry, uint32(o.sessionExpiry))
	}
	return cp
}

// connectError is a CONNACK that refused the connection.
type connectError struct {
	code packet.ReasonCode
}

func (e *connectError) Error() string {
	return fmt.Sprintf("connection refused: %v", e.code)
}

// dialWire connects client number i as id: network connection, CONNECT and
// CONNACK, bounded by ctx. bufSize is the read buffer (small for idle
// connections).
func dialWire(ctx context.Context, d *dialer, i int, id string, bufSize int) (*wireConn, error) {
	nc, err := d.netConn(ctx, i)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := &wireConn{nc: nc, v: d.o.version, r: packet.NewReader(nc, bufSize), maxQoS: 2, recvMax: 65535}
	c.r.Version = c.v
	c.r.SetBufferPool(&oneBuffer{size: bufSize})
	fail := func(err error) (*wireConn, error) {
		nc.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	b, err := packet.Append(nil, d.connectPacket(id), c.v)
	if err != nil {
		return fail(err)
	}
	if _, err := nc.Write(b); err != nil {
		return fail(err)
	}
	p, err := c.r.ReadPacket()
	if err != nil {
		return fail(fmt.Errorf("waiting for CONNACK: %w", err))
	}
	ack, ok := p.(*packet.Connack)
	if !ok {
		return fail(fmt.Errorf("%v instead of CONNACK", p.Type()))
	}
	if ack.ReasonCode != packet.Success {
		return fail(&connectError{code: ack.ReasonCode})
	}
	if !stop() {
		return fail(context.Cause(ctx))
	}
	nc.SetDeadline(time.Time{})
	c.ack = ack
	c.keepAlive = time.Duration(d.o.keepAlive) * time.Second
	if c.v == packet.Version5 {
		pr := &ack.Properties
		if pr.Has(packet.PropServerKeepAlive) {
			c.keepAlive = time.Duration(pr.ServerKeepAlive) * time.Second
		}
		if pr.Has(packet.PropReceiveMaximum) && pr.ReceiveMaximum > 0 {
			c.recvMax = int(pr.ReceiveMaximum)
		}
		if pr.Has(packet.PropMaximumQoS) {
			c.maxQoS = pr.MaximumQoS
		}
	}
	c.lastOut.Store(benchNow())
	return c, nil
}

// writeLocked writes out. c.wmu must be held.
func (c *wireConn) writeLocked() error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	c.lastOut.Store(benchNow())
	if cap(c.out) > 4*wireBufSize {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	if err != nil {
		c.werr = err
	}
	return err
}

// flush writes what is pending.
func (c *wireConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked()
}

// flushAcksDue writes the *pending acknowledgements appended so far once
// they fill a batch or nothing more is buffered to read, and zeroes
// *pending.
func (c *wireConn) flushAcksDue(pending *int) error {
	if *pending > 0 && (*pending >= wireAckBatch || c.r.Buffered() == 0) {
		if err := c.flush(); err != nil {
			return err
		}
		*pending = 0
	}
	return nil
}

// ackPublish appends the acknowledgement of a delivery at qos (PUBACK for
// QoS 1, PUBREC for QoS 2) and reports whether there is one.
func (c *wireConn) ackPublish(qos byte, id uint16) bool {
	switch qos {
	case 1:
		c.appendAck(packet.TypePuback, id)
	case 2:
		c.appendAck(packet.TypePubrec, id)
	default:
		return false
	}
	return true
}

// ackPubrel appends the PUBCOMP that answers the PUBREL whose body is body.
func (c *wireConn) ackPubrel(body []byte) error {
	id, _, err := ackFields(body)
	if err != nil {
		return err
	}
	c.appendAck(packet.TypePubcomp, id)
	return nil
}

// appendAck queues an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP)
// with reason Success, which MQTT 5 lets us send in the short form.
func (c *wireConn) appendAck(t packet.Type, id uint16) {
	flags := byte(0)
	if t == packet.TypePubrel {
		flags = 0x02 // [MQTT-3.6.1-1]
	}
	c.wmu.Lock()
	c.out = append(c.out, byte(t)<<4|flags, 2, byte(id>>8), byte(id))
	c.wmu.Unlock()
}

// send encodes p and writes it at once.
func (c *wireConn) send(p packet.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := packet.Append(c.out, p, c.v)
	if err != nil {
		return err
	}
	c.out = b
	return c.writeLocked()
}

// ping sends PINGREQ if nothing was written for half the keep alive; the
// pinger calls it.
func (c *wireConn) ping(now int64) {
	if c.keepAlive <= 0 || c.closed.Load() || now-c.lastOut.Load() < int64(c.keepAlive/2) {
		return
	}
	c.wmu.Lock()
	c.out = append(c.out, byte(packet.TypePingreq)<<4, 0)
	c.writeLocked()
	c.wmu.Unlock()
}

// close ends the connection; graceful sends DISCONNECT first (after what
// is pending), bounded by a short write deadline.
func (c *wireConn) close(graceful bool) {
	if c.closed.Swap(true) {
		return
	}
	if graceful {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.wmu.Lock()
		c.out = append(c.out, byte(packet.TypeDisconnect)<<4, 0)
		c.writeLocked()
		c.wmu.Unlock()
	}
	c.nc.Close()
}

// subscribeSync sends SUBSCRIBE and reads up to its SUBACK, for
// connections without a reading goroutine (conn mode). PUBLISH packets
// that come first are skipped (at QoS 0 there is nothing to answer).
func (c *wireConn) subscribeSync(ctx context.Context, filter string, qos byte) error {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	err := c.send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: filter, QoS: qos}}})
	if err != nil {
		return err
	}
	for {
		h, err := c.r.ReadHeader()
		if err != nil {
			return fmt.Errorf("waiting for SUBACK: %w", err)
		}
		body, err := c.r.ReadBody(h)
		if err != nil {
			return fmt.Errorf("waiting for SUBACK: %w", err)
		}
		if h.Type != packet.TypeSuback {
			continue
		}
		p, err := packet.Decode(h, body, c.v)
		if err != nil {
			return err
		}
		return subackError(p.(*packet.Suback))
	}
}

// subackError returns an error if the SUBACK refused the subscription.
func subackError(s *packet.Suback) error {
	for _, rc := range s.ReasonCodes {
		if rc >= 0x80 {
			return fmt.Errorf("subscription refused: %v", rc)
		}
	}
	return nil
}

// oneBuffer is a BufferPool of one buffer, for one Reader: handing the
// buffer back when it is empty and taking it again starts the next read at
// its beginning. (A Reader otherwise keeps filling the buffer after its
// last packet and reads into the shrinking rest of it, so most reads are
// short of the buffer's size.)
type oneBuffer struct {
	size int
	buf  []byte
}

func (p *oneBuffer) Get() []byte {
	if p.buf == nil {
		p.buf = make([]byte, p.size)
	}
	b := p.buf
	p.buf = nil
	return b
}

func (p *oneBuffer) Put(b []byte) { p.buf = b }

// readPacket reads the next packet; body is valid until the next read. It
// also reports whether the packet took a read from the network (it was not
// wholly buffered already), so that the caller can take the time afresh.
func (c *wireConn) readPacket() (packet.FixedHeader, []byte, bool, error) {
	buffered := c.r.Buffered()
	if buffered == 0 {
		c.r.Release() // the next read starts at the beginning of the buffer
	}
	h, err := c.r.ReadHeader()
	if err != nil {
		return h, nil, false, err
	}
	body, err := c.r.ReadBody(h)
	return h, body, buffered < h.Size(), err
}

// errMalformed is a packet the wire engine cannot make sense of.
var errMalformed = errors.New("malformed packet from the broker")

// ackFields returns the packet identifier and reason code of an
// acknowledgement body.
func ackFields(body []byte) (id uint16, code packet.ReasonCode, err error) {
	if len(body) < 2 {
		return 0, 0, errMalformed
	}
	id = uint16(body[0])<<8 | uint16(body[1])
	if len(body) > 2 {
		code = packet.ReasonCode(body[2])
	}
	return id, code, nil
}

// disconnectError describes a DISCONNECT from the broker.
func disconnectError(body []byte) error {
	if len(body) > 0 {
		return fmt.Errorf("broker sent DISCONNECT: %v", packet.ReasonCode(body[0]))
	}
	return errors.New("broker sent DISCONNECT")
}

// publishFields splits a PUBLISH body into packet identifier and payload,
// without copying (v is the protocol version: MQTT 5 has properties).
func publishFields(flags byte, body []byte, v byte) (qos byte, id uint16, payload []byte, err error) {
	qos = flags >> 1 & 3
	if len(body) < 2 {
		return 0, 0, nil, errMalformed
	}
	i := 2 + (int(body[0])<<8 | int(body[1]))
	if qos > 0 {
		if i+2 > len(body) {
			return 0, 0, nil, errMalformed
		}
		id = uint16(body[i])<<8 | uint16(body[i+1])
		i += 2
	}
	if v == packet.Version5 {
		n := 0
		for shift := 0; ; shift += 7 {
			if i >= len(body) || shift > 21 {
				return 0, 0, nil, errMalformed
			}
			b := body[i]
			i++
			n |= int(b&0x7f) << shift
			if b&0x80 == 0 {
				break
			}
		}
		i += n
	}
	if i > len(body) {
		return 0, 0, nil, errMalformed
	}
	return qos, id, body[i:], nil
}

// publishTemplate encodes a PUBLISH of topic with a payload of size bytes
// and returns everything before the payload, and where in it the packet
// identifier goes (-1 for QoS 0).
func publishTemplate(topic string, qos byte, size int, v byte) (hdr []byte, idAt int, err error) {
	p := &packet.Publish{Topic: topic, QoS: qos, Payload: make([]byte, size)}
	if qos > 0 {
		p.PacketID = 0xa5a5
	}
	b, err := packet.Append(nil, p, v)
	if err != nil {
		return nil, 0, err
	}
	hdr = b[:len(b)-size]
	if qos == 0 {
		return hdr, -1, nil
	}
	i := 1
	for hdr[i]&0x80 != 0 {
		i++
	}
	idAt = i + 1 + 2 + len(topic)
	if idAt+2 > len(hdr) || hdr[idAt] != 0xa5 || hdr[idAt+1] != 0xa5 {
		return nil, 0, errors.New("cannot locate the packet identifier in PUBLISH")
	}
	return hdr, idAt, nil
}

// pinger sends PINGREQ on the wire engine's connections that have been
// quiet for half their keep alive: one goroutine for all of them.
type pinger struct {
	mu    sync.Mutex
	conns []*wireConn // guarded by mu
	stop  chan struct{}
	done  chan struct{}
}

func newPinger() *pinger {
	p := &pinger{stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *pinger) add(c *wireConn) {
	if c.keepAlive <= 0 {
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *pinger) loop() {
	defer close(p.done)
	periodic.Run(p.stop, func() time.Duration { return time.Second }, p.round)
}

// round forgets the closed connections and pings the others that are due.
func (p *pinger) round() {
	now := benchNow()
	p.mu.Lock()
	live := p.conns[:0]
	for _, c := range p.conns {
		if !c.closed.Load() {
			live = append(live, c)
		}
	}
	clear(p.conns[len(live):])
	p.conns = live
	conns := append([]*wireConn(nil), live...)
	p.mu.Unlock()
	for _, c := range conns {
		c.ping(now)
	}
}

func (p *pinger) close() {
	close(p.stop)
	<-p.done
}

// wirePub is a publisher's connection on the wire engine.
type wirePub struct {
	c    *wireConn
	p    *publisher
	hdr  []byte // the PUBLISH up to its payload
	idAt int    // where the packet identifier goes in hdr, -1 for QoS 0
	buf  []byte // the payload
}

func newWirePub(ctx context.Context, p *publisher) (*wirePub, error) {
	o := p.r.o
	if err := checkQoSAgainst(o.qos, 2); err != nil {
		return nil, err
	}
	hdr, idAt, err := publishTemplate(p.topic, byte(o.qos), o.size, o.version)
	if err != nil {
		return nil, err
	}
	c, err := dialWire(ctx, p.r.d, p.num, p.id, 16<<10)
	if err != nil {
		return nil, err
	}
	if err := checkQoSAgainst(o.qos, c.maxQoS); err != nil {
		c.close(true)
		return nil, err
	}
	p.r.pinger.add(c)
	return &wirePub{c: c, p: p, hdr: hdr, idAt: idAt, buf: make([]byte, o.size)}, nil
}

// checkQoSAgainst refuses a QoS above the broker's Maximum QoS.
func checkQoSAgainst(qos int, maxQoS byte) error {
	if qos > int(maxQoS) {
		return fmt.Errorf("QoS %d is above the broker's Maximum QoS %d", qos, maxQoS)
	}
	return nil
}

func (l *wirePub) payload(uint16) []byte { return l.buf }
func (l *wirePub) window() int           { return l.c.recvMax }
func (l *wirePub) flush() error          { return l.c.flush() }
func (l *wirePub) close(graceful bool)   { l.c.close(graceful) }

func (l *wirePub) publish(tok uint16) error {
	c := l.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	n := len(c.out)
	c.out = append(c.out, l.hdr...)
	if l.idAt >= 0 {
		c.out[n+l.idAt] = byte(tok >> 8)
		c.out[n+l.idAt+1] = byte(tok)
	}
	c.out = append(c.out, l.buf...)
	if len(c.out) >= wireBufSize {
		return c.writeLocked()
	}
	return nil
}

func (l *wirePub) start() {
	l.p.r.wg.Add(1)
	go l.read()
}

// read handles what the broker sends a publisher: acknowledgements (and
// PUBREL for them), PINGRESP, DISCONNECT.
func (l *wirePub) read() {
	p, c := l.p, l.c
	defer p.r.wg.Done()
	pending := 0
	for {
		if pending > 0 && (pending >= wireAckBatch || c.r.Buffered() == 0) {
			if c.flush() != nil {
				return
			}
			pending = 0
		}
		h, body, _, err := c.readPacket()
		if err != nil {
			if !p.r.stopped.Load() && !c.closed.Load() {
				p.r.errs.add(fmt.Errorf("publisher %s: %w", p.id, err))
			}
			return
		}
		switch h.Type {
		case packet.TypePuback, packet.TypePubcomp:
			id, code, err := ackFields(body)
			if err != nil {
				p.unexpectedN.Add(1)
				continue
			}
			p.ackDone(id, outcomeOf(code))
		case packet.TypePubrec:
			id, code, err := ackFields(body)
			if err != nil {
				p.unexpectedN.Add(1)
				continue
			}
			if code >= 0x80 {
				p.ackDone(id, ackRejected)
				continue
			}
			c.appendAck(packet.TypePubrel, id)
			pending++
		case packet.TypePubrel: // left over from an earlier session
			if id, _, err := ackFields(body); err == nil {
				c.appendAck(packet.TypePubcomp, id)
				pending++
			}
		case packet.TypePublish: // someone subscribed the publisher to something
			if qos, id, _, err := publishFields(h.Flags, body, c.v); err == nil && qos > 0 {
				t := packet.TypePuback
				if qos == 2 {
					t = packet.TypePubrec
				}
				c.appendAck(t, id)
				pending++
			}
		case packet.TypeDisconnect:
			p.r.errs.add(fmt.Errorf("publisher %s: %w", p.id, disconnectError(body)))
			c.close(false)
			return
		}
	}
}

// outcomeOf classifies an acknowledgement's reason code.
func outcomeOf(code packet.ReasonCode) int {
	if code >= 0x80 {
		return ackRejected
	}
	return ackOK
}

// connectWire connects the subscriber, starts its reader and subscribes.
func (s *subscriber) connectWire(ctx context.Context) error {
	c, err := dialWire(ctx, s.r.sd, s.num, s.id, wireBufSize)
	if err != nil {
		return err
	}
	s.r.pinger.add(c)
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
	s.r.wg.Add(1)
	go s.wireLoop(c)
	if err := c.send(s.subscribePacket()); err != nil {
		return err
	}
	select {
	case err := <-s.subacked:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for SUBACK: %w", context.Cause(ctx))
	}
}

func (s *subscriber) subscribePacket() *packet.Subscribe {
	return &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: s.filter, QoS: byte(s.r.o.qos)}}}
}

// wireLoop reads the subscriber's messages, reconnecting when
// --sub-reconnect says so, until the run stops or the connection fails.
func (s *subscriber) wireLoop(c *wireConn) {
	r := s.r
	defer r.wg.Done()
	for {
		err := s.wireRead(c)
		if r.stopped.Load() {
			c.close(false)
			return
		}
		if err != nil {
			if !c.closed.Load() {
				r.errs.add(fmt.Errorf("subscriber %s: %w", s.id, err))
			}
			c.close(false)
			return
		}
		c.close(true)
		if c, err = s.redialWire(); err != nil {
			if !r.stopped.Load() {
				r.errs.add(fmt.Errorf("subscriber %s: reconnecting: %w", s.id, err))
			}
			return
		}
	}
}

// redialWire reconnects the subscriber with the same client identifier,
// subscribing again if the broker kept no session.
func (s *subscriber) redialWire() (*wireConn, error) {
	r := s.r
	ctx, cancel := context.WithTimeout(r.ctx, r.o.connectTimeout)
	defer cancel()
	c, err := dialWire(ctx, r.sd, s.num, s.id, wireBufSize)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if r.stopped.Load() {
		s.mu.Unlock()
		c.close(false)
		return nil, errors.New("stopped")
	}
	s.cur = c
	s.reconnects++
	s.sinceConnect = 0
	s.mu.Unlock()
	r.pinger.add(c)
	if !c.ack.SessionPresent {
		if err := c.send(s.subscribePacket()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// wireRead handles what the broker sends the subscriber on c. It returns
// nil when the subscriber is to reconnect, or why c failed.
func (s *subscriber) wireRead(c *wireConn) error {
	r := s.r
	pending := 0 // acknowledgements not yet written
	done := 0    // deliveries completed since the last kick
	var now int64
	for {
		if done > 0 && (done >= wireAckBatch || c.r.Buffered() == 0) {
			r.kick() // once per batch of packets, not per message
			done = 0
		}
		if err := c.flushAcksDue(&pending); err != nil {
			return err
		}
		h, body, read, err := c.readPacket()
		if err != nil {
			return err
		}
		if read || now == 0 {
			// Packets that came in one read arrived together; taking the
			// time once per read also saves a clock read per message.
			now = benchNow()
		}
		switch h.Type {
		case packet.TypePublish:
			qos, id, payload, err := publishFields(h.Flags, body, c.v)
			if err != nil {
				return err
			}
			again := s.record(payload, now, qos, true)
			if qos < 2 {
				done++
			}
			if c.ackPublish(qos, id) {
				pending++
			}
			if again {
				r.kick()
				return nil
			}
		case packet.TypePubrel:
			if err := c.ackPubrel(body); err != nil {
				return err
			}
			pending++
			r.completed.Add(1)
			done++
		case packet.TypeSuback:
			p, err := packet.Decode(h, body, c.v)
			if err == nil {
				err = subackError(p.(*packet.Suback))
			}
			select {
			case s.subacked <- err:
			default:
			}
		case packet.TypeDisconnect:
			return disconnectError(body)
		}
	}
}
