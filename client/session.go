package client

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/packet"
)

// flightKind is what a packet identifier is used for.
type flightKind uint8

const (
	kindPublish flightKind = iota + 1
	kindSubscribe
	kindUnsubscribe
)

// flight is a request awaiting its acknowledgement: a QoS 1 or 2 publish, a
// SUBSCRIBE or an UNSUBSCRIBE. Flights are recycled; all fields are guarded
// by Client.mu.
type flight struct {
	id       uint16
	kind     flightKind
	qos      byte
	released bool // QoS 2: PUBREC received and PUBREL sent; awaiting PUBCOMP
	sent     bool // written on some connection: a resend carries DUP
	msg      *Message
	topic    string        // the full topic of msg, even if it was sent with only an alias
	req      packet.Packet // *packet.Subscribe or *packet.Unsubscribe, PacketID set
	record   bool          // a SUBSCRIBE of the application: remember what is granted
	done     func(error)   // the asynchronous caller's callback
	ch       chan error    // a synchronous caller waits here (capacity 1; kept across recycling)
	waiting  bool          // a synchronous caller owns the flight and recycles it
	given    bool          // the caller stopped waiting (ctx): the flight recycles itself
	finished bool          // completed; its result is in ch
	resp     packet.Packet // SUBACK or UNSUBACK
	prev     *flight
	next     *flight
}

// result is a callback to call, once c.mu is unlocked, with err.
type result struct {
	fn  func(error)
	err error
}

// subRecord is a granted subscription, to restore when the server lost
// the session.
type subRecord struct {
	sub packet.Subscription
	// props are the properties of the SUBSCRIBE that made it (Subscription
	// Identifier, User Property), shared by the filters of one SUBSCRIBE so
	// that they are restored together.
	props *packet.Properties
}

func (c *Client) newFlightLocked() *flight {
	if n := len(c.free); n > 0 {
		f := c.free[n-1]
		c.free = c.free[:n-1]
		return f
	}
	return &flight{}
}

// recycleLocked keeps f for reuse: as many flights as the most ever
// outstanding at once, like the identifier table.
func (c *Client) recycleLocked(f *flight) {
	ch := f.ch
	*f = flight{ch: ch}
	if len(c.free) < len(c.ids) {
		c.free = append(c.free, f)
	}
}

// maxIDs is the number of packet identifiers (1 to 65535).
const maxIDs = 65535

// nextIDLocked returns an unused packet identifier; the caller has checked
// that one is free (c.used < maxIDs). Identifiers are taken in turn from
// 1 to len(c.ids), so the table stays as small as the most flights ever
// outstanding at once, and finding a free one takes one step as long as
// acknowledgements come roughly in order.
func (c *Client) nextIDLocked() uint16 {
	if c.used == len(c.ids) {
		n := min(max(2*len(c.ids), 32), maxIDs)
		c.ids = append(c.ids, make([]*flight, n-len(c.ids))...)
	}
	for {
		c.nextID++
		if c.nextID == 0 || int(c.nextID) > len(c.ids) {
			c.nextID = 1
		}
		if c.ids[c.nextID-1] == nil {
			return c.nextID
		}
	}
}

// flightLocked returns the flight using packet identifier id, or nil.
func (c *Client) flightLocked(id uint16) *flight {
	if id == 0 || int(id) > len(c.ids) {
		return nil
	}
	return c.ids[id-1]
}

// addLocked registers f under its identifier, last in sending order.
func (c *Client) addLocked(f *flight) {
	c.ids[f.id-1] = f
	c.used++
	f.prev, f.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = f
	} else {
		c.head = f
	}
	c.tail = f
	if f.kind == kindPublish {
		c.inflight++
	}
}

// completeLocked removes f and hands it its result: a synchronous waiter
// gets it through f.ch; for an asynchronous one completeLocked returns the
// callback to call (after unlocking) with err.
func (c *Client) completeLocked(f *flight, err error) func(error) {
	c.ids[f.id-1] = nil
	c.used--
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		c.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		c.tail = f.prev
	}
	f.prev, f.next = nil, nil
	if f.kind == kindPublish {
		c.inflight--
		broadcast(&c.windowCh)
	}
	if f.waiting {
		if f.given {
			c.recycleLocked(f)
			return nil
		}
		f.finished = true
		f.ch <- err
		return nil
	}
	d := f.done
	c.recycleLocked(f)
	return d
}

// wait waits for the synchronous flight f, owned by the caller.
func (c *Client) wait(ctx context.Context, f *flight) (packet.Packet, error) {
	var err error
	select {
	case err = <-f.ch:
	case <-ctx.Done():
		c.mu.Lock()
		if !f.finished {
			f.given = true
			c.mu.Unlock()
			return nil, ctx.Err()
		}
		c.mu.Unlock()
		err = <-f.ch
	}
	c.mu.Lock()
	resp := f.resp
	c.recycleLocked(f)
	c.mu.Unlock()
	return resp, err
}

// resetSessionLocked discards the session state after a CONNACK without
// Session Present [MQTT-3.2.2-5]. Publishes still in flight are sent again
// as new messages (QoS 1 may then arrive twice, as QoS 1 allows), except
// QoS 2 publishes the server already acknowledged with PUBREC, which are
// complete; their callbacks are returned, to be called with nil.
func (c *Client) resetSessionLocked() []result {
	clear(c.qos2In)
	var calls []result
	for f := c.head; f != nil; {
		next := f.next
		if f.kind == kindPublish {
			if f.released {
				if d := c.completeLocked(f, nil); d != nil {
					calls = append(calls, result{d, nil})
				}
			} else {
				f.sent = false
			}
		}
		f = next
	}
	return calls
}

// resendLocked sends f again on a new connection: a PUBLISH with DUP if it
// was sent before and the session is the same [MQTT-3.3.1-1], a PUBREL, or
// the SUBSCRIBE or UNSUBSCRIBE. c.mu and cn.wmu must be held.
func (c *Client) resendLocked(cn *conn, f *flight) error {
	switch {
	case f.kind != kindPublish:
		f.sent = true
		return cn.appendLocked(f.req)
	case f.released:
		cn.ack = packet.Ack{Kind: packet.TypePubrel, PacketID: f.id}
		return cn.appendLocked(&cn.ack)
	}
	_, err := cn.encodePublishLocked(f.msg, f.id, f.sent, f.topic)
	f.sent = true
	return err
}

// resubscribeLocked restores the recorded subscriptions, one SUBSCRIBE per
// original SUBSCRIBE. c.mu and cn.wmu must be held.
func (c *Client) resubscribeLocked(cn *conn) {
	for i := 0; i < len(c.subs); {
		props := c.subs[i].props
		p := &packet.Subscribe{Properties: *props}
		for ; i < len(c.subs) && c.subs[i].props == props; i++ {
			p.Subscriptions = append(p.Subscriptions, c.subs[i].sub)
		}
		if c.used >= maxIDs {
			return
		}
		p.PacketID = c.nextIDLocked()
		f := c.newFlightLocked()
		f.id, f.kind, f.req, f.sent = p.PacketID, kindSubscribe, p, true
		c.addLocked(f)
		if err := cn.appendLocked(p); err != nil {
			c.s.log.Warn("cannot restore subscriptions", "err", err)
		}
	}
}

// recordLocked remembers the granted subscriptions of a SUBSCRIBE.
func (c *Client) recordLocked(req *packet.Subscribe, ack *packet.Suback) {
	for i, s := range req.Subscriptions {
		if i >= len(ack.ReasonCodes) || ack.ReasonCodes[i] >= 0x80 {
			continue
		}
		c.forgetLocked(s.Filter)
		c.subs = append(c.subs, subRecord{sub: s, props: &req.Properties})
	}
}

// forgetLocked drops the recorded subscription to filter.
func (c *Client) forgetLocked(filter string) {
	for i := range c.subs {
		if c.subs[i].sub.Filter == filter {
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			return
		}
	}
}

// handleAck acts on PUBACK, PUBREC and PUBCOMP for the client's publishes.
func (c *Client) handleAck(cn *conn, a *packet.Ack) {
	var err error
	if cn.v == packet.Version5 && a.ReasonCode.IsError() {
		err = &ReasonError{Type: a.Kind, Code: a.ReasonCode, Properties: a.Properties}
	}
	c.mu.Lock()
	f := c.flightLocked(a.PacketID)
	switch {
	case f == nil || f.kind != kindPublish:
		c.mu.Unlock()
		c.s.log.Debug("acknowledgement for an unknown packet identifier", "type", a.Kind, "packet_id", a.PacketID)
		if a.Kind == packet.TypePubrec && err == nil {
			code := packet.Success
			if cn.v == packet.Version5 {
				code = packet.PacketIdentifierNotFound
			}
			cn.sendAck(packet.TypePubrel, a.PacketID, code)
		}
	case a.Kind == packet.TypePuback && f.qos == 1,
		a.Kind == packet.TypePubcomp && f.qos == 2 && f.released,
		a.Kind == packet.TypePubrec && f.qos == 2 && err != nil: // a failed PUBREC ends the flow
		d := c.completeLocked(f, err)
		c.mu.Unlock()
		if d != nil {
			d(err)
		}
	case a.Kind == packet.TypePubrec && f.qos == 2:
		f.released = true
		cn.sendAck(packet.TypePubrel, a.PacketID, packet.Success) // [MQTT-4.3.3-4]
		c.mu.Unlock()
	default:
		c.mu.Unlock()
		c.s.log.Debug("acknowledgement of the wrong kind", "type", a.Kind, "packet_id", a.PacketID)
	}
}

// handleResponse completes a SUBSCRIBE or UNSUBSCRIBE with its SUBACK or
// UNSUBACK.
func (c *Client) handleResponse(id uint16, t packet.Type, p packet.Packet) {
	c.mu.Lock()
	f := c.flightLocked(id)
	want := kindSubscribe
	if t == packet.TypeUnsuback {
		want = kindUnsubscribe
	}
	if f == nil || f.kind != want {
		c.mu.Unlock()
		c.s.log.Debug("response for an unknown packet identifier", "type", t, "packet_id", id)
		return
	}
	switch r := p.(type) {
	case *packet.Suback:
		if f.record {
			c.recordLocked(f.req.(*packet.Subscribe), r)
		} else {
			for _, rc := range r.ReasonCodes {
				if rc >= 0x80 {
					c.s.log.Warn("server refused a restored subscription", "reason", rc)
				}
			}
		}
	case *packet.Unsuback:
		for i, filter := range f.req.(*packet.Unsubscribe).Filters {
			if i < len(r.ReasonCodes) && r.ReasonCodes[i].IsError() {
				continue // MQTT 5: not unsubscribed
			}
			c.forgetLocked(filter)
		}
	}
	f.resp = p
	d := c.completeLocked(f, nil)
	c.mu.Unlock()
	if d != nil {
		d(nil)
	}
}

// encodePublishLocked encodes m with packet identifier id into the write
// buffer, applying topic aliases. resend is the full topic when m is sent
// again on a new connection (where the aliases of the old one do not
// exist). It returns m's full topic. cn.wmu must be held.
func (cn *conn) encodePublishLocked(m *Message, id uint16, dup bool, resend string) (string, error) {
	p := &cn.pub
	*p = packet.Publish(*m)
	defer func() { *p = packet.Publish{} }() // do not keep the caller's memory
	p.PacketID, p.Dup = id, dup
	topic := p.Topic
	// A message received and published again must not carry the
	// Subscription Identifiers it was delivered with [MQTT-3.3.4-6].
	p.Properties.SubscriptionIDs = nil
	var newAlias uint16 // an alias this PUBLISH sets, committed once it is encoded
	if cn.v == packet.Version5 {
		if resend != "" {
			p.Topic, topic = resend, resend
			p.Properties.Clear(packet.PropTopicAlias)
		}
		switch {
		case p.Properties.Has(packet.PropTopicAlias):
			a := p.Properties.TopicAlias
			if a == 0 || a > cn.aliasMax {
				return "", fmt.Errorf("client: topic alias %d above the server's Topic Alias Maximum %d: %w", a, cn.aliasMax, ErrNotSupported)
			}
			if p.Topic != "" {
				newAlias = a
			} else if topic = cn.aliasOutLocked(a); topic == "" {
				return "", fmt.Errorf("client: topic alias %d not set on this connection", a)
			}
		case cn.c.s.AutoTopicAlias && cn.aliasMax > 0 && topic != "":
			if a, ok := cn.autoAlias[topic]; ok {
				p.Topic = ""
				p.Properties.SetUint(packet.PropTopicAlias, uint32(a))
			} else if a := cn.freeAliasLocked(); a != 0 {
				newAlias = a
				p.Properties.SetUint(packet.PropTopicAlias, uint32(a))
			}
		}
		if cn.maxPacket > 0 {
			if n := packet.Size(p, cn.v); n > cn.maxPacket {
				// [MQTT-3.1.2-24]
				return "", fmt.Errorf("client: PUBLISH of %d bytes exceeds the server's Maximum Packet Size %d: %w", n, cn.maxPacket, packet.ErrTooLarge)
			}
		}
	}
	if err := cn.appendLocked(p); err != nil {
		return "", err
	}
	if newAlias != 0 {
		cn.setAliasLocked(newAlias, topic)
	}
	return topic, nil
}

// aliasOutLocked returns the topic alias a stands for on this connection.
func (cn *conn) aliasOutLocked(a uint16) string {
	if int(a) > len(cn.aliasOut) {
		return ""
	}
	return cn.aliasOut[a-1]
}

// setAliasLocked records that alias a now stands for topic.
func (cn *conn) setAliasLocked(a uint16, topic string) {
	if cn.aliasOut == nil {
		cn.aliasOut = make([]string, cn.aliasMax)
	}
	if old := cn.aliasOut[a-1]; old != "" && cn.autoAlias[old] == a {
		delete(cn.autoAlias, old)
	}
	cn.aliasOut[a-1] = topic
	if cn.c.s.AutoTopicAlias {
		if cn.autoAlias == nil {
			cn.autoAlias = make(map[string]uint16)
		}
		cn.autoAlias[topic] = a
	}
}

// freeAliasLocked returns an alias never used on this connection, or 0.
func (cn *conn) freeAliasLocked() uint16 {
	for cn.aliasNext < cn.aliasMax {
		cn.aliasNext++
		if cn.aliasOutLocked(cn.aliasNext) == "" {
			return cn.aliasNext
		}
	}
	return 0
}
