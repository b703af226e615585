package broker

import (
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Message is an application message as the broker routes it. A Message is
// immutable once published: every subscriber's delivery shares it.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// Properties are the MQTT 5 properties forwarded to subscribers: Payload
	// Format Indicator, Content Type, Response Topic, Correlation Data and
	// User Properties. Nil if there are none. The Message Expiry Interval is
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
	id uint64
}

// newMessage makes the message a client's PUBLISH p carries, on topic name
// (its mount point applied), received at now. The message takes p's
// payload.
func newMessage(p *packet.Publish, name, publisher string, v byte, now time.Time) *Message {
	m := &Message{Topic: name, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain,
		Publisher: publisher, Received: now}
	if v == packet.Version5 {
		m.Properties = forwardedProperties(&p.Properties)
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

// forwardedProperties extracts the properties a PUBLISH passes on to
// subscribers unchanged [MQTT-3.3.2-4], [MQTT-3.3.2-15], [MQTT-3.3.2-16],
// [MQTT-3.3.2-17], [MQTT-3.3.2-20]; nil if there are none.
func forwardedProperties(in *packet.Properties) *packet.Properties {
	keep := []packet.PropertyID{packet.PropPayloadFormat, packet.PropContentType,
		packet.PropResponseTopic, packet.PropCorrelationData}
	var out *packet.Properties
	for _, id := range keep {
		if in.Has(id) {
			if out == nil {
				out = &packet.Properties{}
			}
			switch id {
			case packet.PropPayloadFormat:
				out.SetUint(id, uint32(in.PayloadFormat))
			case packet.PropCorrelationData:
				out.CorrelationData = in.CorrelationData
				out.Set(id)
			default:
				out.SetString(id, stringProp(in, id))
			}
		}
	}
	if len(in.User) > 0 {
		if out == nil {
			out = &packet.Properties{}
		}
		out.User = in.User
	}
	return out
}

func stringProp(p *packet.Properties, id packet.PropertyID) string {
	switch id {
	case packet.PropContentType:
		return p.ContentType
	case packet.PropResponseTopic:
		return p.ResponseTopic
	}
	return ""
}

// decodePublish decodes a PUBLISH into p like p.Decode, except that the
// payload of a body larger than packet.MaxKeptBody, which the Reader hands
// over to its caller, is not copied: p.Payload aliases body, and the
// message routed from it holds the one copy of a large packet.
func decodePublish(p *packet.Publish, flags byte, body []byte, v byte) error {
	if len(body) <= packet.MaxKeptBody {
		return p.Decode(flags, body, v)
	}
	n := publishHeaderLen(flags, body, v)
	if n < 0 {
		return p.Decode(flags, body, v) // malformed: Decode says how
	}
	if err := p.Decode(flags, body[:n], v); err != nil {
		return err
	}
	if n < len(body) {
		p.Payload = body[n:len(body):len(body)]
	}
	return nil
}

// publishHeaderLen returns the length of a PUBLISH body's variable header
// (topic, packet identifier, properties), or -1 if body is too short for
// what it announces.
func publishHeaderLen(flags byte, body []byte, v byte) int {
	if len(body) < 2 {
		return -1
	}
	n := 2 + (int(body[0])<<8 | int(body[1]))
	if flags>>1&3 > 0 {
		n += 2
	}
	if v == packet.Version5 {
		var plen, shift int
		for i := 0; ; i++ {
			if i == 4 || n >= len(body) {
				return -1
			}
			c := body[n]
			n++
			plen |= int(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				break
			}
		}
		n += plen
	}
	if n > len(body) {
		return -1
	}
	return n
}
