package mosqdb

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/packet"
)

// properties reads the rest of the chunk as MQTT v5 PUBLISH properties: a
// variable byte integer length, then the properties (2.2.2), which must
// fill the chunk. A client message holds only a Subscription Identifier
// (subOnly). It returns nil if there are none.
func (r *reader) properties(subOnly bool) (*packet.Properties, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if uint64(n) != uint64(r.left()) {
		return nil, r.fail(fmt.Sprintf("properties of %d bytes where %d are left in the chunk", n, r.left()))
	}
	p := &packet.Properties{}
	for r.left() > 0 {
		at := r.off
		idb, _ := r.fixed(1)
		id := packet.PropertyID(idb[0])
		if subOnly && id != packet.PropSubscriptionID {
			return nil, r.fail(fmt.Sprintf("property %#02x in a client message", byte(id)))
		}
		if id != packet.PropUser && id != packet.PropSubscriptionID && p.Has(id) {
			r.off = at
			return nil, r.fail(fmt.Sprintf("property %#02x twice", byte(id)))
		}
		switch id {
		case packet.PropPayloadFormat:
			b, err := r.fixed(1)
			if err != nil {
				return nil, err
			}
			p.PayloadFormat = b[0]
		case packet.PropMessageExpiry:
			b, err := r.fixed(4)
			if err != nil {
				return nil, err
			}
			p.MessageExpiry = binary.BigEndian.Uint32(b)
		case packet.PropTopicAlias:
			b, err := r.fixed(2)
			if err != nil {
				return nil, err
			}
			p.TopicAlias = binary.BigEndian.Uint16(b)
		case packet.PropContentType:
			if p.ContentType, err = r.pstr("content type"); err != nil {
				return nil, err
			}
		case packet.PropResponseTopic:
			if p.ResponseTopic, err = r.pstr("response topic"); err != nil {
				return nil, err
			}
			if !packet.ValidTopicName(p.ResponseTopic) {
				r.off = at
				return nil, r.fail(fmt.Sprintf("response topic %q is not a valid topic name", p.ResponseTopic)) // [MQTT-3.3.2-14]
			}
		case packet.PropCorrelationData:
			n, err := r.u16()
			if err != nil {
				return nil, err
			}
			if int(n) > r.left() {
				return nil, r.fail(fmt.Sprintf("correlation data of %d bytes runs past the end of the chunk", n))
			}
			p.CorrelationData = r.bytes(int(n))
			if p.CorrelationData == nil {
				p.CorrelationData = []byte{}
			}
		case packet.PropSubscriptionID:
			v, err := r.varint()
			if err != nil {
				return nil, err
			}
			if v == 0 {
				return nil, r.fail("subscription identifier 0") // [MQTT-3.8.2-2]
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, v)
			continue
		case packet.PropUser:
			k, err := r.pstr("user property name")
			if err != nil {
				return nil, err
			}
			v, err := r.pstr("user property value")
			if err != nil {
				return nil, err
			}
			p.User = append(p.User, packet.UserProperty{Key: k, Value: v})
			continue
		default:
			r.off = at
			return nil, r.fail(fmt.Sprintf("property %#02x is not a PUBLISH property", byte(id)))
		}
		p.Set(id)
	}
	if p.Empty() {
		return nil, nil
	}
	return p, nil
}

// varint reads a variable byte integer (1.5.5): at most four bytes.
func (r *reader) varint() (uint32, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		b, err := r.fixed(1)
		if err != nil {
			return 0, err
		}
		v |= uint32(b[0]&0x7f) << (7 * i)
		if b[0]&0x80 == 0 {
			return v, nil
		}
	}
	return 0, r.fail("malformed variable byte integer")
}

// validUTF8 reports whether s is UTF-8 without U+0000, as MQTT strings
// must be [MQTT-1.5.4-1] [MQTT-1.5.4-2].
func validUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
	}
	return true
}
