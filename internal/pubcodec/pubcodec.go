package pubcodec

import "github.com/midge-mqtt/midge/packet"

// Forwarded extracts the properties a PUBLISH or a will passes on to
// subscribers unchanged [MQTT-3.3.2-4], [MQTT-3.3.2-15], [MQTT-3.3.2-16],
// [MQTT-3.3.2-17], [MQTT-3.3.2-20], in the order they came in; nil if there
// are none. The result shares in's slices.
func Forwarded(in *packet.Properties) *packet.Properties {
	if !in.Has(packet.PropPayloadFormat) && !in.Has(packet.PropContentType) && !in.Has(packet.PropResponseTopic) &&
		!in.Has(packet.PropCorrelationData) && !in.Has(packet.PropUser) {
		return nil
	}
	out := new(packet.Properties)
	*out = *in
	// What a PUBLISH or a will may carry besides: the broker sends the
	// Message Expiry Interval left, its own Topic Alias and Subscription
	// Identifiers, and acts on the Will Delay Interval.
	for _, id := range [...]packet.PropertyID{packet.PropMessageExpiry, packet.PropTopicAlias,
		packet.PropSubscriptionID, packet.PropWillDelay} {
		out.Clear(id)
	}
	return out
}

// Decode decodes a PUBLISH into p like p.Decode, except that the
// payload of a body larger than packet.MaxKeptBody, which the Reader hands
// over to its caller, is not copied: p.Payload aliases body, and the
// message routed from it holds the one copy of a large packet.
func Decode(p *packet.Publish, flags byte, body []byte, v byte) error {
	if len(body) <= packet.MaxKeptBody {
		return p.Decode(flags, body, v)
	}
	n := headerLen(flags, body, v)
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

// headerLen returns the length of a PUBLISH body's variable header
// (topic, packet identifier, properties), or -1 if body is too short for
// what it announces.
func headerLen(flags byte, body []byte, v byte) int {
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

// AddRemaining adds n to the Remaining Length of the packet encoded in
// b[start:], moving what follows it if its encoding gets longer.
func AddRemaining(b []byte, start, n int) []byte {
	rem, k := 0, 0
	for shift := 0; ; shift += 7 {
		c := b[start+1+k]
		k++
		rem |= int(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
	}
	var vb [4]byte
	nv := 0
	for v := rem + n; ; {
		c := byte(v & 0x7f)
		v >>= 7
		if v > 0 {
			c |= 0x80
		}
		vb[nv] = c
		nv++
		if v == 0 {
			break
		}
	}
	if nv > k {
		end := len(b)
		b = append(b, vb[:nv-k]...) // room; overwritten below
		copy(b[start+1+nv:], b[start+1+k:end])
	}
	copy(b[start+1:], vb[:nv])
	return b
}
