package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/internal/connwrite"
	"github.com/midge-mqtt/midge/packet"
)

// outStage is where a local-to-remote QoS 1 or 2 message stands.
type outStage uint8

const (
	awaitAck  outStage = iota // PUBLISH sent to the remote: PUBACK or PUBREC expected
	awaitRel                  // PUBREC passed to the local side: its PUBREL expected
	awaitComp                 // PUBREL sent to the remote: PUBCOMP expected
	localOnly                 // completed towards the remote (QoS downgraded or dropped): finish the local QoS 2 flow ourselves
)

// outFlight is a local-to-remote message the remote has not finished
// acknowledging. Its key is the packet identifier, the same on both sides.
type outFlight struct {
	stage    outStage
	sentQoS  byte // the QoS sent to the remote
	localQoS byte // the QoS the local broker sent
}

// link is one connection of a bridge: the remote wire and the local wire,
// and what is in flight between them.
type link struct {
	b      *Bridge
	remote *wire
	local  *wire

	// Set before run, read-only afterwards.
	outMax    int           // remote's Receive Maximum (the local session's window)
	inMax     int           // our Receive Maximum announced to the remote
	localMax  int           // the local broker's Receive Maximum
	maxPacket int           // the remote's Maximum Packet Size (or bridge_max_packet_size), 0: none
	maxQoS    byte          // the remote's Maximum QoS
	retainOK  bool          // retained messages may go to the remote
	keepAlive time.Duration // PINGREQ interval

	aliasIn  []string          // remote's topic aliases; owned by the remote reader
	aliasOut connwrite.Aliases // our aliases to the remote (Max set before run); owned by the local reader

	lastMsg atomic.Int64 // Unix nanoseconds of the last message either way (idle_timeout)
	pinged  atomic.Bool  // a PINGREQ awaits its answer

	mu        sync.Mutex // guards the fields below
	out       map[uint16]*outFlight
	inIDs     map[uint16]struct{} // remote-to-local QoS 1 and 2 messages the local broker has not finished
	inPending []packet.Packet     // remote packets waiting for the local window or the local SUBACK
	localAcks int                 // local SUBACK/UNSUBACK still expected
}

func newLink(b *Bridge, remote *wire) *link {
	cfg := &b.cfg
	l := &link{b: b, remote: remote, outMax: 20, localMax: 65535, maxQoS: 2,
		out: map[uint16]*outFlight{}, inIDs: map[uint16]struct{}{}}
	l.inMax = cfg.ReceiveMaximum
	if l.inMax <= 0 {
		l.inMax = 20
	}
	return l
}

// run relays until a side fails, ctx is done or stop is closed. pending are
// remote packets received during the handshake.
func (l *link) run(ctx context.Context, stop <-chan struct{}, pending []packet.Packet, addrIdx int) error {
	l.remote.start()
	l.local.start()
	l.lastMsg.Store(time.Now().UnixNano())
	l.mu.Lock()
	l.inPending = append(l.inPending, pending...)
	l.mu.Unlock()
	errc := make(chan error, 2)
	go func() { errc <- l.readRemote() }()
	go func() { errc <- l.readLocal() }()
	cfg := &l.b.cfg
	tick := time.NewTicker(time.Second) // keep alive, idle_timeout and the primary probe are checked each second
	defer tick.Stop()
	nextPing := time.Now().Add(l.keepAlive)
	nextProbe := time.Now().Add(5 * time.Second)
	var err error
loop:
	for {
		select {
		case err = <-errc:
			break loop
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		case <-stop:
			err = errRestart
			break loop
		case now := <-tick.C:
			if l.keepAlive > 0 && !now.Before(nextPing) {
				if l.pinged.Load() {
					err = errPingTimeout
					break loop
				}
				l.pinged.Store(true)
				l.remote.send(&packet.Pingreq{})
				nextPing = now.Add(l.keepAlive)
			}
			if cfg.StartType == Lazy && now.Sub(time.Unix(0, l.lastMsg.Load())) >= cfg.IdleTimeout && l.idle() {
				err = errIdle
				break loop
			}
			if !cfg.RoundRobin && addrIdx != 0 && !now.Before(nextProbe) {
				nextProbe = now.Add(5 * time.Second)
				if l.b.probePrimary(ctx) {
					l.b.mu.Lock()
					l.b.cur = 0
					l.b.mu.Unlock()
					err = errRestart
					break loop
				}
			}
		}
	}
	l.shutdown(err)
	return err
}

// idle reports whether nothing is in flight either way.
func (l *link) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.out) == 0 && len(l.inIDs) == 0 && len(l.inPending) == 0
}

// shutdown closes both sides. The local session keeps its state: the
// messages in flight are resent when the bridge reconnects. A bridge
// stopped on purpose (ctx done, restart, idle) says goodbye to the remote:
// its '0' notification, then DISCONNECT.
func (l *link) shutdown(why error) {
	cfg := &l.b.cfg
	if errors.Is(why, context.Canceled) || errors.Is(why, errRestart) || errors.Is(why, errIdle) {
		if cfg.Notifications && !cfg.NotificationsLocalOnly {
			// QoS 0: no packet identifier may collide with relayed ones.
			l.remote.send(&packet.Publish{Topic: cfg.StateTopic(), Payload: []byte{'0'}, Retain: l.retainOK})
		}
		l.remote.send(&packet.Disconnect{})
		l.remote.flush(time.Second)
	}
	l.local.send(&packet.Disconnect{})
	l.local.flush(time.Second)
	l.remote.close(why)
	l.local.close(why)
	<-l.remote.done
	<-l.local.done
}

// readRemote reads and relays the remote's packets.
func (l *link) readRemote() error {
	for {
		p, err := l.remote.read()
		if err != nil {
			return fmt.Errorf("remote: %w", err)
		}
		l.pinged.Store(false)
		if err := l.fromRemote(p); err != nil {
			return err
		}
	}
}

// readLocal reads and relays the local broker's packets.
func (l *link) readLocal() error {
	l.mu.Lock()
	waiting := l.localAcks > 0
	l.mu.Unlock()
	if !waiting {
		l.drainIn()
	}
	for {
		p, err := l.local.read()
		if err != nil {
			return fmt.Errorf("local: %w", err)
		}
		if err := l.fromLocal(p); err != nil {
			return err
		}
	}
}

// fromRemote handles one packet from the remote.
func (l *link) fromRemote(p packet.Packet) error {
	switch p := p.(type) {
	case *packet.Publish:
		return l.inPublish(p)
	case *packet.Ack:
		switch p.Kind {
		case packet.TypePubrel:
			l.queueIn(p)
		case packet.TypePuback:
			l.outPuback(p)
		case packet.TypePubrec:
			l.outPubrec(p)
		case packet.TypePubcomp:
			l.outPubcomp(p)
		}
	case *packet.Disconnect:
		return fmt.Errorf("remote sent DISCONNECT 0x%02x %s", byte(p.ReasonCode), p.Properties.ReasonString)
	case *packet.Suback, *packet.Unsuback, *packet.Pingresp:
	default:
		return fmt.Errorf("remote sent unexpected %v", p.Type())
	}
	return nil
}

// fromLocal handles one packet from the local broker.
func (l *link) fromLocal(p packet.Packet) error {
	switch p := p.(type) {
	case *packet.Publish:
		return l.outPublish(p)
	case *packet.Ack:
		if p.Kind == packet.TypePubrel {
			l.outPubrel(p)
		} else {
			l.inAck(p)
		}
	case *packet.Suback, *packet.Unsuback:
		l.mu.Lock()
		l.localAcks--
		ready := l.localAcks <= 0
		l.mu.Unlock()
		if ready {
			l.drainIn()
		}
	case *packet.Disconnect:
		return fmt.Errorf("local broker sent DISCONNECT 0x%02x", byte(p.ReasonCode))
	case *packet.Pingresp:
	default:
		return fmt.Errorf("local broker sent unexpected %v", p.Type())
	}
	return nil
}

// ack returns an acknowledgement for version v: MQTT 3 has no reason
// codes.
func ack(kind packet.Type, id uint16, code packet.ReasonCode, v byte) *packet.Ack {
	if v != packet.Version5 {
		code = packet.Success
	}
	return &packet.Ack{Kind: kind, PacketID: id, ReasonCode: code}
}

// outPublish relays a local PUBLISH to the remote.
func (l *link) outPublish(p *packet.Publish) error {
	cfg := &l.b.cfg
	l.lastMsg.Store(time.Now().UnixNano())
	q := min(p.QoS, l.maxQoS)
	o := &packet.Publish{Topic: RemapOut(cfg.Topics, p.Topic), QoS: q, Retain: p.Retain && l.retainOK,
		Payload: p.Payload, Dup: p.Dup && q > 0}
	if q > 0 {
		o.PacketID = p.PacketID
	}
	if l.remote.v == packet.Version5 {
		o.Properties = p.Properties
		o.Properties.Clear(packet.PropTopicAlias)
		o.Properties.Clear(packet.PropSubscriptionID)
		o.Properties.SubscriptionIDs = nil
		l.aliasOut.Apply(o)
	}
	drop := l.maxPacket > 0 && packet.Size(o, l.remote.v) > l.maxPacket
	if !drop && q > 0 {
		// Recorded before it is sent: the acknowledgement may come back
		// before send returns.
		l.mu.Lock()
		l.out[p.PacketID] = &outFlight{stage: awaitAck, sentQoS: q, localQoS: p.QoS}
		l.mu.Unlock()
	}
	if drop {
		l.b.dropped.Add(1)
		l.b.log.Warn("message too large for the remote dropped", "topic", p.Topic, "bytes", len(p.Payload))
	} else {
		if err := l.remote.send(o); err != nil {
			return err
		}
		l.b.sent.Add(1)
	}
	if p.QoS == 0 || !drop && q > 0 {
		return nil
	}
	// Nothing comes back from the remote: finish towards the local side.
	if p.QoS == 1 {
		return l.local.send(ack(packet.TypePuback, p.PacketID, packet.Success, packet.Version5))
	}
	l.mu.Lock()
	l.out[p.PacketID] = &outFlight{stage: localOnly, localQoS: 2}
	l.mu.Unlock()
	return l.local.send(ack(packet.TypePubrec, p.PacketID, packet.Success, packet.Version5))
}

// outPuback handles the remote's PUBACK of a relayed message.
func (l *link) outPuback(p *packet.Ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.out[p.PacketID]
	if !ok || f.stage != awaitAck || f.sentQoS != 1 {
		l.b.log.Warn("remote sent PUBACK for an unknown packet identifier; ignored", "packet_id", p.PacketID)
		return
	}
	if f.localQoS == 2 {
		// Downgraded to QoS 1 for the remote: the local QoS 2 flow ends here.
		f.stage = localOnly
		l.local.send(ack(packet.TypePubrec, p.PacketID, packet.Success, packet.Version5))
		return
	}
	delete(l.out, p.PacketID)
	l.local.send(ack(packet.TypePuback, p.PacketID, p.ReasonCode, packet.Version5))
}

// outPubrec handles the remote's PUBREC of a relayed QoS 2 message.
func (l *link) outPubrec(p *packet.Ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.out[p.PacketID]
	if !ok || f.sentQoS != 2 || f.stage != awaitAck && f.stage != awaitRel {
		// Answer with PUBREL so that the remote frees the identifier
		// [MQTT-4.3.3] (v5: 0x92 Packet Identifier not found).
		l.b.log.Warn("remote sent PUBREC for an unknown packet identifier", "packet_id", p.PacketID)
		l.remote.send(ack(packet.TypePubrel, p.PacketID, packet.PacketIdentifierNotFound, l.remote.v))
		return
	}
	if p.ReasonCode >= 0x80 {
		// Refused by the remote: the flow ends [MQTT-4.3.3-?] (v5 4.3.3).
		delete(l.out, p.PacketID)
		l.b.dropped.Add(1)
	} else {
		f.stage = awaitRel
	}
	l.local.send(ack(packet.TypePubrec, p.PacketID, p.ReasonCode, packet.Version5))
}

// outPubrel relays the local PUBREL of a QoS 2 message to the remote. The
// message may be unknown: after a restart the local session resends its
// PUBRELs.
func (l *link) outPubrel(p *packet.Ack) {
	l.lastMsg.Store(time.Now().UnixNano())
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.out[p.PacketID]; ok && f.stage == localOnly {
		delete(l.out, p.PacketID)
		l.local.send(ack(packet.TypePubcomp, p.PacketID, packet.Success, packet.Version5))
		return
	}
	l.out[p.PacketID] = &outFlight{stage: awaitComp, sentQoS: 2, localQoS: 2}
	l.remote.send(ack(packet.TypePubrel, p.PacketID, packet.Success, l.remote.v))
}

// outPubcomp handles the remote's PUBCOMP.
func (l *link) outPubcomp(p *packet.Ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.out[p.PacketID]
	if !ok || f.stage != awaitComp {
		l.b.log.Warn("remote sent PUBCOMP for an unknown packet identifier; ignored", "packet_id", p.PacketID)
		return
	}
	delete(l.out, p.PacketID)
	l.local.send(ack(packet.TypePubcomp, p.PacketID, packet.Success, packet.Version5))
}

// inPublish relays a remote PUBLISH to the local broker, keeping its
// packet identifier so that the local session recognises a QoS 2 message
// the remote resends.
func (l *link) inPublish(p *packet.Publish) error {
	if l.remote.v == packet.Version5 && p.Properties.Has(packet.PropTopicAlias) {
		a := p.Properties.TopicAlias
		if a == 0 || int(a) > l.b.cfg.MaxTopicAlias {
			return &packet.Error{Code: packet.TopicAliasInvalid, Reason: "remote used a topic alias above the maximum"} // [MQTT-3.3.2-9]
		}
		if l.aliasIn == nil {
			l.aliasIn = make([]string, l.b.cfg.MaxTopicAlias)
		}
		if p.Topic == "" {
			p.Topic = l.aliasIn[a-1]
			if p.Topic == "" {
				return &packet.Error{Code: packet.ProtocolError, Reason: "remote used an unknown topic alias"}
			}
		} else {
			l.aliasIn[a-1] = p.Topic
		}
		p.Properties.Clear(packet.PropTopicAlias)
	}
	l.lastMsg.Store(time.Now().UnixNano())
	l.b.received.Add(1)
	p.Topic = RemapIn(l.b.cfg.Topics, p.Topic)
	if !packet.ValidTopicName(p.Topic) {
		return fmt.Errorf("remote PUBLISH remapped to an invalid topic %q", p.Topic)
	}
	if l.remote.v != packet.Version5 {
		p.Properties = packet.Properties{}
	}
	p.Properties.Clear(packet.PropSubscriptionID)
	p.Properties.SubscriptionIDs = nil
	l.queueIn(p)
	return nil
}

// queueIn sends p (a PUBLISH or PUBREL from the remote) to the local broker,
// or keeps it until the local window opens and the local SUBACK is in.
func (l *link) queueIn(p packet.Packet) {
	l.mu.Lock()
	if len(l.inPending) > 0 || l.localAcks > 0 || !l.admitLocked(p) {
		l.inPending = append(l.inPending, p)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.local.send(p)
}

// admitLocked reports whether p may go to the local broker now, and
// counts it in the local window. l.mu must be held.
func (l *link) admitLocked(p packet.Packet) bool {
	pub, ok := p.(*packet.Publish)
	if !ok || pub.QoS == 0 {
		return true
	}
	if _, dup := l.inIDs[pub.PacketID]; dup {
		return true
	}
	if len(l.inIDs) >= l.localMax {
		return false
	}
	l.inIDs[pub.PacketID] = struct{}{}
	return true
}

// drainIn sends the remote packets that were waiting, as far as the local
// window allows.
func (l *link) drainIn() {
	l.mu.Lock()
	var ready []packet.Packet
	if l.localAcks <= 0 {
		n := 0
		for n < len(l.inPending) && l.admitLocked(l.inPending[n]) {
			n++
		}
		ready = append(ready, l.inPending[:n]...)
		l.inPending = append(l.inPending[:0], l.inPending[n:]...)
	}
	l.mu.Unlock()
	for _, p := range ready {
		l.local.send(p)
	}
}

// inAck relays the local broker's PUBACK, PUBREC or PUBCOMP of a message
// from the remote.
func (l *link) inAck(p *packet.Ack) {
	done := p.Kind == packet.TypePuback || p.Kind == packet.TypePubcomp || p.Kind == packet.TypePubrec && p.ReasonCode >= 0x80
	if done {
		l.mu.Lock()
		delete(l.inIDs, p.PacketID)
		l.mu.Unlock()
		l.drainIn()
	}
	l.remote.send(ack(p.Kind, p.PacketID, p.ReasonCode, l.remote.v))
}
