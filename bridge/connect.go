package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// writeTimeout bounds one write to either side.
const writeTimeout = 30 * time.Second

// handshakeTimeout bounds the CONNECT exchange and the subscriptions.
const handshakeTimeout = 30 * time.Second

// neverExpires is the Session Expiry Interval of a session kept forever.
const neverExpires = 0xFFFFFFFF

// ConnackError is a CONNACK that refused the bridge.
type ConnackError struct {
	Side string // "remote" or "local"
	Code packet.ReasonCode
}

func (e *ConnackError) Error() string {
	return fmt.Sprintf("%s broker refused the connection: reason code 0x%02x", e.Side, byte(e.Code))
}

// connectOnce connects to the remote and the local broker and relays until
// either side ends, ctx is done, the bridge is restarted or (lazy) idle.
// It returns errNotConnected (wrapped) if the remote was never connected.
func (b *Bridge) connectOnce(ctx context.Context) error {
	addr, idx := b.address()
	b.setState(Connecting, addr, nil)
	b.log.Info(fmt.Sprintf("Connecting bridge %s (%s)", b.cfg.Name, addr))
	l, pending, err := b.connectRemote(ctx, addr)
	if err != nil {
		b.failed()
		b.setState(Connecting, addr, err)
		return fmt.Errorf("%w: %s: %w", errNotConnected, addr, err)
	}
	if err := b.connectLocal(ctx, l); err != nil {
		l.remote.close(err)
		b.setState(Connecting, addr, err)
		return fmt.Errorf("%w: local side: %w", errNotConnected, err)
	}
	stop := make(chan struct{})
	b.mu.Lock()
	b.link, b.stopLink = l, stop
	b.mu.Unlock()
	b.setState(Connected, addr, nil)
	if b.cfg.Notifications {
		b.notifyLocal(ctx, '1')
	}
	err = l.run(ctx, stop, pending, idx)
	b.mu.Lock()
	b.link = nil
	if b.stopLink == stop {
		b.stopLink = nil
	}
	b.mu.Unlock()
	if b.cfg.Notifications {
		b.notifyLocal(context.WithoutCancel(ctx), '0')
	}
	b.setState(Waiting, "", err)
	return err
}

// connectRemote dials addr and makes the CONNECT exchange, the remote
// subscriptions and the notification. It returns the packets the remote
// sent meanwhile, to relay once the local side is up.
func (b *Bridge) connectRemote(ctx context.Context, addr string) (*link, []packet.Packet, error) {
	nc, err := b.dial(ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	b.mu.Lock()
	v, private, retainOK := b.version, b.privateOK, b.retainOK
	b.mu.Unlock()
	cfg := &b.cfg
	l := newLink(b, newWire(nc, v, writeTimeout))
	l.retainOK = retainOK && cfg.OutgoingRetain
	cp := &packet.Connect{ProtocolVersion: v, CleanStart: cfg.CleanSession, ClientID: cfg.RemoteClientID,
		KeepAlive: uint16(min(cfg.KeepAlive/time.Second, 65535)),
		Bridge:    cfg.TryPrivate && private && v != packet.Version5}
	if cfg.RemoteUsername != "" {
		cp.HasUsername, cp.Username = true, cfg.RemoteUsername
	}
	if cfg.RemotePassword != nil {
		cp.HasPassword, cp.Password = true, cfg.RemotePassword
	}
	if cfg.Notifications && !cfg.NotificationsLocalOnly {
		cp.Will = &packet.Will{Topic: cfg.StateTopic(), Payload: []byte{'0'}, QoS: 1, Retain: l.retainOK}
	}
	if v == packet.Version5 {
		pr := &cp.Properties
		if cfg.SessionExpiry > 0 {
			pr.SetUint(packet.PropSessionExpiry, cfg.SessionExpiry)
		}
		pr.SetUint(packet.PropReceiveMaximum, uint32(l.inMax))
		if cfg.MaxTopicAlias > 0 {
			pr.SetUint(packet.PropTopicAliasMaximum, uint32(cfg.MaxTopicAlias))
		}
		if cfg.MaxPacketSize > 0 {
			pr.SetUint(packet.PropMaximumPacketSize, uint32(cfg.MaxPacketSize))
		}
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	fail := func(err error) (*link, []packet.Packet, error) {
		nc.Close()
		return nil, nil, err
	}
	if err := l.remote.writeNow(cp); err != nil {
		return fail(fmt.Errorf("sending CONNECT: %w", err))
	}
	h, err := l.remote.r.ReadHeader()
	if err != nil {
		return fail(fmt.Errorf("reading CONNACK: %w", err))
	}
	if h.Type != packet.TypeConnack {
		return fail(fmt.Errorf("expected CONNACK, got %v", h.Type))
	}
	body, err := l.remote.r.ReadBody(h)
	if err != nil {
		return fail(fmt.Errorf("reading CONNACK: %w", err))
	}
	if v == packet.Version5 && len(body) == 2 && body[1] == byte(packet.ConnackV3UnacceptableProtocolVersion) {
		// A 3.1.1 broker's answer to MQTT 5: fall back, as Mosquitto does.
		b.mu.Lock()
		b.version = packet.Version311
		b.mu.Unlock()
		b.log.Warn("remote refused MQTT 5; falling back to MQTT 3.1.1")
		return fail(&ConnackError{Side: "remote", Code: packet.ConnackV3UnacceptableProtocolVersion})
	}
	p, err := packet.Decode(h, body, v)
	if err != nil {
		return fail(fmt.Errorf("CONNACK: %w", err))
	}
	ack := p.(*packet.Connack)
	if ack.ReasonCode != packet.Success {
		switch {
		case v != packet.Version5 && cp.Bridge && ack.ReasonCode == packet.ConnackV3UnacceptableProtocolVersion:
			b.mu.Lock()
			b.privateOK = false
			b.mu.Unlock()
			b.log.Warn("remote refused the bridge protocol bit (try_private); retrying without it")
		case v == packet.Version5 && ack.ReasonCode == packet.RetainNotSupported:
			b.mu.Lock()
			b.retainOK = false
			b.mu.Unlock()
		}
		return fail(&ConnackError{Side: "remote", Code: ack.ReasonCode})
	}
	l.setRemoteLimits(ack)
	pending, err := l.subscribeRemote()
	if err != nil {
		return fail(err)
	}
	nc.SetDeadline(time.Time{})
	return l, pending, nil
}

// subscribeRemote sends the remote SUBSCRIBEs (in and both topics), the
// UNSUBSCRIBEs (out topics, bridge_attempt_unsubscribe) and the '1'
// notification, and waits for their acknowledgements. It runs before any
// message is relayed, so their packet identifiers cannot collide with
// those of relayed messages. Messages the remote sends meanwhile are
// returned.
func (l *link) subscribeRemote() ([]packet.Packet, error) {
	cfg := &l.b.cfg
	id := uint16(0)
	want := map[uint16]packet.Type{}
	next := func(t packet.Type) uint16 { id++; want[id] = t; return id }
	for _, t := range cfg.Topics {
		switch {
		case t.Direction.in():
			s := packet.Subscription{Filter: t.Remote, QoS: t.QoS}
			if l.remote.v == packet.Version5 {
				s.NoLocal, s.RetainAsPublished = true, true
			}
			if err := l.remote.writeNow(&packet.Subscribe{PacketID: next(packet.TypeSuback), Subscriptions: []packet.Subscription{s}}); err != nil {
				return nil, err
			}
		case cfg.AttemptUnsubscribe:
			if err := l.remote.writeNow(&packet.Unsubscribe{PacketID: next(packet.TypeUnsuback), Filters: []string{t.Remote}}); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Notifications && !cfg.NotificationsLocalOnly {
		qos := min(byte(1), l.maxQoS)
		p := &packet.Publish{Topic: cfg.StateTopic(), Payload: []byte{'1'}, QoS: qos, Retain: l.retainOK}
		if qos > 0 {
			p.PacketID = next(packet.TypePuback)
		}
		if err := l.remote.writeNow(p); err != nil {
			return nil, err
		}
	}
	var pending []packet.Packet
	for len(want) > 0 {
		p, err := l.remote.read()
		if err != nil {
			return nil, fmt.Errorf("waiting for SUBACK: %w", err)
		}
		var pid uint16
		switch p := p.(type) {
		case *packet.Suback:
			pid = p.PacketID
			for i, c := range p.ReasonCodes {
				if c >= 0x80 && i < len(cfg.Topics) {
					l.b.log.Warn("remote refused a bridge subscription", "code", fmt.Sprintf("0x%02x", byte(c)))
				}
			}
		case *packet.Unsuback:
			pid = p.PacketID
		case *packet.Ack:
			if p.Kind != packet.TypePuback {
				pending = append(pending, p) // a PUBREL resent for the session
				continue
			}
			pid = p.PacketID
		case *packet.Publish:
			pending = append(pending, p)
			continue
		case *packet.Disconnect:
			return nil, fmt.Errorf("remote sent DISCONNECT 0x%02x", byte(p.ReasonCode))
		default:
			continue
		}
		if _, ok := want[pid]; !ok {
			return nil, fmt.Errorf("remote acknowledged unknown packet identifier %d", pid)
		}
		delete(want, pid)
	}
	return pending, nil
}

// connectLocal connects the local side and makes its subscriptions.
func (b *Bridge) connectLocal(ctx context.Context, l *link) error {
	cfg := &b.cfg
	nc, err := b.local.DialLocal(ctx, "bridge:"+cfg.Name)
	if err != nil {
		return err
	}
	w := newWire(nc, packet.Version5, writeTimeout)
	cp := &packet.Connect{ProtocolVersion: packet.Version5, CleanStart: cfg.LocalCleanSession, ClientID: cfg.LocalClientID}
	if cfg.LocalUsername != "" {
		cp.HasUsername, cp.Username = true, cfg.LocalUsername
	}
	if cfg.LocalPassword != nil {
		cp.HasPassword, cp.Password = true, cfg.LocalPassword
	}
	pr := &cp.Properties
	if !cfg.LocalCleanSession {
		pr.SetUint(packet.PropSessionExpiry, neverExpires)
	}
	// The remote's window is the local session's: the broker never has
	// more messages in flight to the bridge than the remote accepts.
	pr.SetUint(packet.PropReceiveMaximum, uint32(l.outMax))
	// No Maximum Packet Size: a message too large for the remote reaches
	// the bridge, which drops and counts it (outPublish).
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	fail := func(err error) error {
		nc.Close()
		return err
	}
	if err := w.writeNow(cp); err != nil {
		return fail(err)
	}
	p, err := w.read()
	if err != nil {
		return fail(fmt.Errorf("reading CONNACK: %w", err))
	}
	ack, ok := p.(*packet.Connack)
	if !ok {
		return fail(fmt.Errorf("expected CONNACK, got %v", p.Type()))
	}
	if ack.ReasonCode != packet.Success {
		return fail(&ConnackError{Side: "local", Code: ack.ReasonCode})
	}
	if ack.Properties.Has(packet.PropReceiveMaximum) {
		l.localMax = int(ack.Properties.ReceiveMaximum)
	}
	// The subscriptions of out and both topics, and no others: those of a
	// former configuration are removed.
	wanted := map[string]bool{}
	var subs []packet.Subscription
	for _, t := range cfg.Topics {
		if t.Direction.out() && !wanted[t.Local] {
			wanted[t.Local] = true
			subs = append(subs, packet.Subscription{Filter: t.Local, QoS: min(t.QoS, l.maxQoS), NoLocal: true, RetainAsPublished: true})
		}
	}
	var stale []string
	if info, ok := b.local.Session(cfg.LocalClientID); ok {
		for _, s := range info.Subscriptions {
			if !wanted[s.Filter] {
				stale = append(stale, s.Filter)
			}
		}
	}
	l.local = w
	l.localAcks = 0
	if len(stale) > 0 {
		l.localAcks++
		if err := w.writeNow(&packet.Unsubscribe{PacketID: 1, Filters: stale}); err != nil {
			return fail(err)
		}
	}
	if len(subs) > 0 {
		l.localAcks++
		if err := w.writeNow(&packet.Subscribe{PacketID: 2, Subscriptions: subs}); err != nil {
			return fail(err)
		}
	}
	nc.SetDeadline(time.Time{})
	return nil
}

// setRemoteLimits applies the remote's CONNACK: its Receive Maximum,
// Maximum Packet Size, Topic Alias Maximum, Maximum QoS, retain
// availability and Server Keep Alive.
func (l *link) setRemoteLimits(ack *packet.Connack) {
	cfg := &l.b.cfg
	l.keepAlive = cfg.KeepAlive
	l.maxPacket = cfg.MaxPacketSize
	if l.remote.v != packet.Version5 {
		return
	}
	pr := &ack.Properties
	if pr.Has(packet.PropReceiveMaximum) {
		l.outMax = int(pr.ReceiveMaximum)
	} else {
		l.outMax = 65535
	}
	if pr.Has(packet.PropMaximumPacketSize) {
		mp := int(pr.MaximumPacketSize)
		if l.maxPacket == 0 || mp < l.maxPacket {
			l.maxPacket = mp
		}
	}
	if pr.Has(packet.PropTopicAliasMaximum) {
		l.aliasOut.Max = min(pr.TopicAliasMaximum, uint16(max(cfg.MaxTopicAlias, 0)))
	}
	if pr.Has(packet.PropMaximumQoS) {
		l.maxQoS = pr.MaximumQoS
	}
	if pr.Has(packet.PropRetainAvailable) && pr.RetainAvailable == 0 {
		l.retainOK = false
	}
	if pr.Has(packet.PropServerKeepAlive) {
		l.keepAlive = time.Duration(pr.ServerKeepAlive) * time.Second
	}
}

var errPingTimeout = errors.New("bridge: no answer to PINGREQ from the remote")

// probePrimary reports whether the primary address accepts a TCP
// connection (round_robin false, while on a secondary address).
func (b *Bridge) probePrimary(ctx context.Context) bool {
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", b.cfg.Addresses[0])
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// prime makes sure the local session exists with its subscriptions before
// the remote is reached, as Mosquitto subscribes its bridges' local side at
// start-up: messages published while the remote has never been reached
// are queued for it (with local_cleansession false). It connects the
// local side, subscribes, and disconnects; what the broker sends meanwhile
// stays in the session and is resent at the next connection.
func (b *Bridge) prime(ctx context.Context) error {
	l := newLink(b, nil)
	l.outMax = 1
	if err := b.connectLocal(ctx, l); err != nil {
		return err
	}
	w := l.local
	defer w.nc.Close()
	w.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	for l.localAcks > 0 {
		p, err := w.read()
		if err != nil {
			return err
		}
		switch p.(type) {
		case *packet.Suback, *packet.Unsuback:
			l.localAcks--
		}
	}
	return w.writeNow(&packet.Disconnect{})
}
