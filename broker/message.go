package broker

import (
	"math"
	"time"

	"github.com/midge-mqtt/midge/internal/pubcodec"
	"github.com/midge-mqtt/midge/packet"
)

// Message is an application message as the broker routes it. A Message is
// immutable once published: every subscriber's delivery shares it.
type Message struct {
	// matchGen is, for a retained message, the subscription index's
	// generation when the message was routed (topic.Matches.Stamp),
	// genPending while it is stored but not routed yet, 0 if it was never
	// routed here (restored, SetRetained). A new subscription reads it to
	// tell whether the message reaches it live (matchRetained); the one
	// field of a published Message that changes. Read and written with
	// sync/atomic's functions (not an atomic.Uint64, so that a Message
	// can still be copied); first, for 64-bit alignment on 32-bit ARM.
	matchGen uint64

	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// Properties are the MQTT 5 properties forwarded to subscribers: Payload
	// Format Indicator, Content Type, Response Topic, Correlation Data and
	// User Properties, in the order they came. Nil if none. The expiry is
	// kept as Expiry instead, and Topic Alias and Subscription Identifiers
	// are per connection.
	Properties *packet.Properties
	// Expiry is when the message expires; zero means never.
	Expiry time.Time
	// Publisher is the client identifier of the publisher, "" for messages
	// the broker makes itself ($SYS, API).
	Publisher string
	// Received is when the broker received the message.
	Received time.Time

	// source is who published a retained message, for check_retain_source;
	// nil when unknown (restored from the store, made by the broker).
	source *identity
	// id names the message in the Store once a delivery of it has been
	// committed, 0 before: every stored delivery of the message shares it
	// (StoredDelivery.ID). Only the committer's goroutine reads or writes
	// it, see committer.number.
	id        uint64
	routeOnly bool       // a message of Route: not stored as retained
	sel       *Selection // RouteSelected's: the subscriptions that get it
}

// genPending marks a retained message stored ahead of its routing.
const genPending = math.MaxUint64

// newMessage makes the message a client's PUBLISH p carries, on topic name
// (its mount point applied), received at now. The message takes p's
// payload.
func newMessage(p *packet.Publish, name, publisher string, v byte, now time.Time) *Message {
	m := &Message{Topic: name, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain,
		Publisher: publisher, Received: now}
	if v == packet.Version5 {
		m.Properties = pubcodec.Forwarded(&p.Properties)
		if p.Properties.Has(packet.PropMessageExpiry) {
			m.Expiry = now.Add(time.Duration(p.Properties.MessageExpiry) * time.Second)
		}
	}
	return m
}

// size approximates the memory a queued message holds, for max_queued_bytes
// and max_inflight_bytes (which Mosquitto counts as payload bytes).
func (m *Message) size() int { return len(m.Payload) }

// expired reports whether m has expired at now.
func (m *Message) expired(now time.Time) bool {
	return !m.Expiry.IsZero() && !now.Before(m.Expiry)
}

// remaining returns the Message Expiry Interval to send at now: the seconds
// left, rounded up, at least 1.
func (m *Message) remaining(now time.Time) uint32 {
	d := m.Expiry.Sub(now)
	s := (d + time.Second - 1) / time.Second
	return uint32(max(s, 1))
}
