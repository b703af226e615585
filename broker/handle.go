package broker

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// handle processes one packet other than PUBLISH.
func (c *conn) handle(ctx context.Context, p packet.Packet) error {
	switch p := p.(type) {
	case *packet.Ack:
		return c.handleAck(p)
	case *packet.Subscribe:
		return c.handleSubscribe(ctx, p)
	case *packet.Unsubscribe:
		c.handleUnsubscribe(ctx, p)
		return nil
	case *packet.Pingreq:
		c.queueCtrl(outItem{kind: outPacket, pkt: &packet.Pingresp{}}) // [MQTT-3.12.4-1]
		return nil
	case *packet.Disconnect:
		return c.handleDisconnect(p)
	case *packet.Auth:
		// AUTH is only valid with an Authentication Method, which CONNECT
		// did not carry (4.12) [MQTT-4.12.0-? ]: a protocol error.
		return &packet.Error{Code: packet.ProtocolError, Reason: "AUTH without authentication method"}
	default:
		return &packet.Error{Code: packet.ProtocolError, Reason: p.Type().String() + " sent by a client"}
	}
}

// handlePublish processes a PUBLISH from the client. p is reused for the
// next packet; handlePublish takes ownership of its Topic and Payload.
func (c *conn) handlePublish(ctx context.Context, p *packet.Publish) error {
	srv := c.srv
	v := c.version
	if v == packet.Version5 {
		if err := c.resolveAlias(p); err != nil {
			return err
		}
	}
	if p.QoS > c.maxQoS {
		return &packet.Error{Code: packet.QoSNotSupported, Reason: fmt.Sprintf("PUBLISH QoS %d above max_qos", p.QoS)} // [MQTT-3.2.2-11]
	}
	if p.Retain && srv.opt().RetainUnavailable {
		return &packet.Error{Code: packet.RetainNotSupported, Reason: "retained PUBLISH with retain_available false"} // [MQTT-3.2.2-14]
	}
	s := c.sess
	if p.QoS > 0 {
		limit := 0 // Receive Maximum is MQTT 5's
		if v == packet.Version5 {
			limit = srv.opt().maxInflight
		}
		switch s.receive(p.QoS, p.PacketID, limit, int(c.inQoS1.Load())) {
		case qos2Dup:
			// A retransmission of a message already received: acknowledge
			// again, do not deliver again [MQTT-4.3.3-9] (v5).
			c.queueAck(packet.TypePubrec, p.PacketID, packet.Success)
			return nil
		case qos2Full:
			// Mosquitto 2.0 answers PUBACK or PUBREC 0x97 instead
			// (docs/mosquitto-compat.md).
			return &packet.Error{Code: packet.ReceiveMaximumExceeded, Reason: "more unacknowledged QoS 1 and 2 PUBLISHes than the Receive Maximum"} // [MQTT-3.3.4-7]
		}
		if p.QoS == 1 {
			c.inQoS1.Add(1) // until ackPublish
		}
	}

	code := packet.Success
	name := c.mount + p.Topic
	switch {
	case srv.opt().messageSizeLimit > 0 && len(p.Payload) > srv.opt().messageSizeLimit:
		c.srv.log.Info(fmt.Sprintf("Dropped too large PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.client.ID, b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, p.Topic, len(p.Payload)))
		// Mosquitto answers 0x95, which is not a PUBACK or PUBREC reason
		// code [MQTT-3.4.2-1]: midge keeps 0x83 (docs/mosquitto-compat.md).
		code = packet.ImplementationSpecificError
	case sysWriteDenied(name) || topic.IsShared(name) || !c.authorize(ctx, name, Write):
		c.srv.log.Debug(fmt.Sprintf("Denied PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c.client.ID, b2i(p.Dup), p.QoS, b2i(p.Retain), p.PacketID, p.Topic, len(p.Payload)))
		code = packet.NotAuthorized
	case v == packet.Version5 && p.Properties.Has(packet.PropPayloadFormat) && p.Properties.PayloadFormat == 1 && !utf8.Valid(p.Payload):
		if p.QoS == 0 {
			return &packet.Error{Code: packet.PayloadFormatInvalid, Reason: "payload is not UTF-8 as its Payload Format Indicator says"} // [MQTT-3.3.2-?] 3.3.2.3.2
		}
		code = packet.PayloadFormatInvalid
	}
	var m *Message
	switch {
	case code == packet.Success && isControlTopic(name):
		// A request to a control endpoint (control.go): answered, never
		// routed; m stays nil, so it is acknowledged in turn below.
		srv.serveControl(ctx, c, name, p)
	case code == packet.Success:
		m = newMessage(p, name, c.client.ID, v, srv.now())
		if p.Retain {
			m.source = s.ident.Load()
		}
	}
	qos, id := p.QoS, p.PacketID
	if srv.commit == nil || m == nil && c.durablePending.Load() == 0 ||
		m != nil && qos == 0 && !m.Retain && c.durablePending.Load() == 0 {
		// Nothing to make durable and nothing durable ahead of it.
		if m != nil && !srv.publish(m, s) && v == packet.Version5 {
			code = packet.NoMatchingSubscribers
		}
		c.ackReplicated(m, qos, id, code)
		return nil
	}
	// With a Store: acknowledge once the message is durable in every
	// persistent session it goes to; acknowledgements keep the order of the
	// PUBLISHes [MQTT-4.6.0-2], so a refused message waits its turn too.
	c.durablePending.Add(1)
	finish := func(matched bool, err error) {
		c.durablePending.Add(-1)
		switch {
		case err != nil:
			if qos > 0 && v != packet.Version5 {
				// 3.1.1 has no way to refuse: close, and the client
				// resends after reconnecting.
				c.kick("persistence failed", packet.UnspecifiedError)
				return
			}
			code = packet.QuotaExceeded
		case m != nil && !matched && v == packet.Version5:
			code = packet.NoMatchingSubscribers
		}
		c.ackReplicated(m, qos, id, code)
	}
	if m == nil {
		srv.commit.add(nil, func(err error) { finish(false, nil) })
		return nil
	}
	var keepInbound bool
	if qos == 2 {
		s.mu.Lock()
		keepInbound = s.persistentLocked()
		s.mu.Unlock()
	}
	srv.publishDurable(m, s, func(b *Batch) {
		if keepInbound {
			b.PutInbound(s.id, id) // a resent PUBLISH after a restart is recognised
		}
	}, finish)
	return nil
}

// resolveAlias applies an MQTT 5 PUBLISH's Topic Alias: it sets the topic
// of a PUBLISH that has none from the alias, or maps the alias to the topic
// it carries (3.3.2.3.4).
func (c *conn) resolveAlias(p *packet.Publish) error {
	pr := &p.Properties
	if pr.Has(packet.PropSubscriptionID) {
		return &packet.Error{Code: packet.ProtocolError, Reason: "PUBLISH from a client with a Subscription Identifier"} // [MQTT-3.3.4-6]
	}
	if !pr.Has(packet.PropTopicAlias) {
		return nil
	}
	a := pr.TopicAlias
	if int(a) > int(c.aliasMaxIn) {
		return &packet.Error{Code: packet.TopicAliasInvalid, Reason: fmt.Sprintf("topic alias %d above the maximum %d", a, c.aliasMaxIn)} // [MQTT-3.3.2-9]
	}
	if p.Topic == "" {
		if int(a) > len(c.aliasIn) || c.aliasIn[a-1] == "" {
			return &packet.Error{Code: packet.ProtocolError, Reason: fmt.Sprintf("unknown topic alias %d", a)} // 3.3.2.3.4
		}
		p.Topic = c.aliasIn[a-1]
		return nil
	}
	if c.aliasIn == nil {
		c.aliasIn = make([]string, c.aliasMaxIn)
	}
	c.aliasIn[a-1] = p.Topic
	return nil
}

// ackPublish answers a client's PUBLISH: PUBACK for QoS 1, PUBREC for QoS 2
// (forgetting the packet identifier of a refused QoS 2 message, whose flow
// ends there, 4.3.3).
func (c *conn) ackPublish(qos byte, id uint16, code packet.ReasonCode) {
	switch qos {
	case 1:
		c.inQoS1.Add(-1)
		c.queueAck(packet.TypePuback, id, code)
	case 2:
		if code.IsError() {
			c.sess.forgetQoS2(id)
		}
		if code == packet.NoMatchingSubscribers {
			// Mosquitto says 0x10 in PUBACK only: a plain PUBREC, as it sends.
			code = packet.Success
		}
		c.queueAck(packet.TypePubrec, id, code)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// handleAck processes PUBACK, PUBREC, PUBREL and PUBCOMP.
func (c *conn) handleAck(p *packet.Ack) error {
	s := c.sess
	switch p.Kind {
	case packet.TypePuback, packet.TypePubcomp:
		if _, _, _, err := s.ack(p.Kind, p.PacketID); err != nil { // an unknown identifier is ignored
			return err
		}
	case packet.TypePubrec:
		if p.ReasonCode.IsError() {
			// The receiver refused the message: the flow ends without PUBREL.
			s.mu.Lock()
			if f := s.flight.Get(p.PacketID); f != nil && f.state == awaitPuback {
				s.mu.Unlock()
				return &packet.Error{Code: packet.ProtocolError, Reason: "PUBREC for a message in flight at QoS 1"}
			} else if f != nil && f.state == awaitPubrec {
				s.forgetStoredLocked(&f.delivery)
				s.removeInflightLocked(p.PacketID)
			}
			more := s.queueLen() > 0
			s.mu.Unlock()
			if more {
				c.wake()
			}
			return nil
		}
		// An unknown identifier gets a plain PUBREL, as Mosquitto sends
		// (0x92 would do too).
		_, release, seq, err := s.ack(packet.TypePubrec, p.PacketID)
		if err != nil {
			return err
		}
		if release {
			// The PUBREC is durable before PUBREL goes out: after a crash the
			// broker resends PUBREL, never the PUBLISH the client completed.
			id := p.PacketID
			c.srv.commit.add(func(b *Batch) { b.ReleaseDelivery(s.id, seq) }, func(err error) {
				if err == nil {
					c.queueAck(packet.TypePubrel, id, packet.Success)
				}
			})
			return nil
		}
		c.queueAck(packet.TypePubrel, p.PacketID, packet.Success) // [MQTT-4.3.3-?] send PUBREL
	case packet.TypePubrel:
		s.mu.Lock()
		_, ok := s.inboundQoS2[p.PacketID]
		delete(s.inboundQoS2, p.PacketID)
		persistent := s.persistentLocked()
		s.mu.Unlock()
		// An unknown identifier (a repeated PUBREL) gets a plain PUBCOMP, as
		// Mosquitto sends, where 0x92 would do too.
		if ok && persistent {
			// Forget the identifier durably before PUBCOMP: the client may
			// reuse it for a new message as soon as it has PUBCOMP.
			id := p.PacketID
			c.srv.commit.add(func(b *Batch) { b.DeleteInbound(s.id, id) }, func(err error) {
				if err == nil {
					c.queueAck(packet.TypePubcomp, id, packet.Success)
				}
			})
			return nil
		}
		c.queueAck(packet.TypePubcomp, p.PacketID, packet.Success) // [MQTT-4.3.3-11]
	}
	return nil
}

// handleSubscribe processes a SUBSCRIBE: it answers with SUBACK, then sends
// the retained messages the new subscriptions ask for.
func (c *conn) handleSubscribe(ctx context.Context, p *packet.Subscribe) error {
	srv := c.srv
	s := c.sess
	var subID uint32
	if ids := p.Properties.SubscriptionIDs; len(ids) > 0 {
		subID = ids[0]
	}
	type granted struct {
		filter string // as stored: mount point applied, $share prefix kept
		inner  string // the filter to match retained messages, "" for shared
		opts   topic.Options
	}
	grants := make([]granted, 0, len(p.Subscriptions))
	codes := make([]packet.ReasonCode, len(p.Subscriptions))
	for i, sub := range p.Subscriptions {
		group, inner, shared, _ := topic.ParseShared(sub.Filter)
		if !shared {
			inner = sub.Filter
		}
		if c.bridge && !shared {
			sub.NoLocal, sub.RetainAsPublished = true, true // a v3.x bridge: no loop, retain kept
		}
		if shared && sub.NoLocal {
			return &packet.Error{Code: packet.ProtocolError, Reason: "No Local on a shared subscription"} // [MQTT-3.8.3-4]
		}
		inner = c.mount + inner
		if !c.authorize(ctx, inner, Subscribe) {
			codes[i] = packet.NotAuthorized
			if c.version != packet.Version5 {
				codes[i] = packet.SubackFailureV3
			}
			continue
		}
		qos := min(sub.QoS, c.maxQoS)
		c.srv.logTyped("subscribe", "%s %d %s", c.client.ID, sub.QoS, sub.Filter)
		codes[i] = packet.ReasonCode(qos) // Granted QoS 0/1/2 [MQTT-3.9.3-1]
		g := granted{filter: inner, inner: inner, opts: topic.Options{
			QoS: qos, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, ID: subID,
		}}
		if shared {
			g.filter = topic.SharePrefix + group + "/" + inner
			g.inner = "" // retained messages are not sent for shared subscriptions (4.8.2)
		}
		grants = append(grants, g)
	}
	// The subscriptions take effect before SUBACK is sent, so a client
	// holding its SUBACK misses nothing published after; SUBACK still goes
	// ahead of every PUBLISH they produce: it takes its place in the queue
	// from before they existed.
	s.mu.Lock()
	at := s.enqSeq
	s.mu.Unlock()
	existed := make([]bool, len(grants))
	gens := make([]uint64, len(grants))
	for i, g := range grants {
		var err error
		existed[i], gens[i], err = srv.index.SubscribeGen(s, g.filter, g.opts) // replaces an identical filter [MQTT-3.8.4-3]
		if err != nil {
			srv.flushRoutes()
			return &packet.Error{Code: packet.TopicFilterInvalid, Reason: err.Error()}
		}
		s.mu.Lock()
		s.subs.set(g.filter, g.opts)
		s.subCount.Store(int32(s.subs.len()))
		s.mu.Unlock()
	}
	if err := c.storeSession(); err != nil {
		// Not durable: refuse what was asked rather than promise it.
		for i, g := range grants {
			srv.index.Unsubscribe(s, g.filter)
			s.mu.Lock()
			s.subs.delete(g.filter)
			s.subCount.Store(int32(s.subs.len()))
			s.mu.Unlock()
			grants[i].inner = ""
		}
		for i := range codes {
			codes[i] = packet.UnspecifiedError
			if c.version != packet.Version5 {
				codes[i] = packet.SubackFailureV3
			}
		}
	}
	srv.flushRoutes() // before the SUBACK: Config.OnRoute
	// The retained messages are read before SUBACK can leave, and queued
	// after it: a message the client publishes once it holds its SUBACK
	// reaches it once, live, and not a second time as a retained message.
	var retained []delivery
	for i, g := range grants {
		if g.inner == "" || srv.opt().RetainUnavailable {
			continue
		}
		switch g.opts.RetainHandling {
		case packet.RetainDoNotSend:
			continue
		case packet.RetainSendIfNewSubscription:
			if existed[i] {
				continue
			}
		}
		gen := gens[i]
		if existed[i] {
			gen = 0 // asked again for what it may have had: all of them
		}
		retained = srv.matchRetained(ctx, c, g.inner, g.opts, gen, retained)
	}
	c.queueCtrlAt(outItem{kind: outPacket, pkt: &packet.Suback{PacketID: p.PacketID, ReasonCodes: codes}}, at)
	s.deliverAll(retained) // all at once: a live message routed meanwhile comes after them
	return nil
}

// retainSourceAllowed reports whether the publisher of retained message m
// may still publish to its topic (check_retain_source, Mosquitto's
// default): a retained message whose publisher lost that right is not sent
// to new subscribers.
func (srv *Server) retainSourceAllowed(ctx context.Context, m *Message) bool {
	return srv.opt().SkipRetainSourceCheck || m.source == nil || m.source.sec.Authorize(ctx, &m.source.client, m.Topic, Write)
}

// handleUnsubscribe processes an UNSUBSCRIBE [MQTT-3.10.4-4].
// Each filter is first checked for Unsubscribe access, as Mosquitto checks
// MOSQ_ACL_UNSUBSCRIBE: a denied one stays subscribed, with reason code 0x87
// in an MQTT 5 UNSUBACK (an MQTT 3.x UNSUBACK has no codes).
func (c *conn) handleUnsubscribe(ctx context.Context, p *packet.Unsubscribe) {
	s := c.sess
	codes := make([]packet.ReasonCode, len(p.Filters))
	for i, f := range p.Filters {
		c.srv.logTyped("unsubscribe", "%s %s", c.client.ID, f)
		inner := f
		if group, in, shared, _ := topic.ParseShared(f); shared {
			inner = c.mount + in
			f = topic.SharePrefix + group + "/" + inner
		} else {
			inner = c.mount + f
			f = inner
		}
		if !c.authorize(ctx, inner, Unsubscribe) {
			codes[i] = packet.NotAuthorized
			continue
		}
		existed := c.srv.index.Unsubscribe(s, f)
		s.mu.Lock()
		s.subs.delete(f)
		s.subCount.Store(int32(s.subs.len()))
		s.mu.Unlock()
		if !existed {
			codes[i] = packet.NoSubscriptionExisted
		}
	}
	if err := c.storeSession(); err != nil {
		for i := range codes {
			if codes[i] != packet.NotAuthorized {
				codes[i] = packet.UnspecifiedError
			}
		}
	}
	c.srv.flushRoutes() // before the UNSUBACK: Config.OnRoute
	ack := &packet.Unsuback{PacketID: p.PacketID}
	if c.version == packet.Version5 {
		ack.ReasonCodes = codes
	}
	c.queueCtrl(outItem{kind: outPacket, pkt: ack})
}

// storeSession writes the session's record (its subscriptions) to the store
// and waits until it is durable, if the session is persistent.
func (c *conn) storeSession() error {
	srv := c.srv
	if srv.commit == nil {
		return nil
	}
	s := c.sess
	s.mu.Lock()
	var rec *StoredSession
	if s.persistentLocked() || s.inStore {
		rec = s.storedSessionLocked(time.Time{}, c.will, c.willDelay)
		s.inStore = true
	}
	s.mu.Unlock()
	if rec == nil {
		return nil
	}
	err := srv.commit.wait(func(b *Batch) { b.PutSession(rec) })
	if err != nil {
		c.srv.log.Error("persistence: cannot store subscriptions", "client_id", s.id, "err", err)
	}
	return err
}

// handleDisconnect processes a client's DISCONNECT and ends the read loop.
func (c *conn) handleDisconnect(p *packet.Disconnect) error {
	s := c.sess
	if c.version == packet.Version5 && p.Properties.Has(packet.PropSessionExpiry) {
		s.mu.Lock()
		if s.expiry == 0 && p.Properties.SessionExpiry != 0 {
			s.mu.Unlock()
			// Mosquitto answers this one with DISCONNECT 0x82.
			c.explain = true
			return &packet.Error{Code: packet.ProtocolError, Reason: "DISCONNECT sets a Session Expiry Interval on a session that had none"} // [MQTT-3.14.2-2]
		}
		s.expiry = p.Properties.SessionExpiry
		s.mu.Unlock()
	}
	c.graceful = p.ReasonCode == packet.NormalDisconnection // 0x04 keeps the will [MQTT-3.14.4-3]
	c.saidBye = true
	c.closeReason = "disconnected"
	return errClose
}
