package packet

import "github.com/midge-mqtt/midge/internal/topic"

// Publish is the PUBLISH packet (3.3).
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    string // may be empty in MQTT 5 when Properties has a Topic Alias
	PacketID uint16 // QoS 1 and 2 only
	// Properties are the MQTT 5 properties. A PUBLISH from a client must not
	// carry Subscription Identifiers [MQTT-3.3.4-6]; the receiver checks that.
	Properties Properties
	Payload    []byte
}

// Type returns TypePublish.
func (*Publish) Type() Type { return TypePublish }

func (p *Publish) flags() byte {
	f := p.QoS << 1
	if p.Dup {
		f |= 0x08
	}
	if p.Retain {
		f |= 0x01
	}
	return f
}

func (p *Publish) size(v byte) int {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if v == Version5 {
		n += p.Properties.fullSize(inPublish)
	}
	return n
}

func (p *Publish) check(v byte) error {
	if p.QoS > 2 {
		return encodeErr("PUBLISH QoS %d", p.QoS)
	}
	if p.QoS > 0 && p.PacketID == 0 {
		return encodeErr("PUBLISH QoS %d without packet identifier", p.QoS)
	}
	if p.Topic == "" && !(v == Version5 && p.Properties.Has(PropTopicAlias)) || p.Topic != "" && !ValidTopicName(p.Topic) {
		return encodeErr("PUBLISH topic %q", p.Topic)
	}
	if v == Version5 {
		if p.Properties.Has(PropResponseTopic) && !ValidTopicName(p.Properties.ResponseTopic) {
			return encodeErr("PUBLISH Response Topic %q", p.Properties.ResponseTopic) // [MQTT-3.3.2-14]
		}
		return p.Properties.check(inPublish)
	}
	return nil
}

func (p *Publish) appendBody(b []byte, v byte) []byte {
	b = appendString(b, p.Topic)
	if p.QoS > 0 {
		b = appendUint16(b, p.PacketID)
	}
	if v == Version5 {
		b = p.Properties.appendTo(b, inPublish)
	}
	return append(b, p.Payload...)
}

// Decode decodes a PUBLISH from its fixed header flags and body for protocol
// version v into p, overwriting every field. It copies the topic and the
// payload (an empty payload decodes as nil) and allocates nothing else unless
// properties are present, so a caller on a hot path can reuse one Publish.
// A topic equal to p's previous one is not copied again: p keeps that string,
// so a stream of PUBLISHes to one topic allocates it once.
func (p *Publish) Decode(flags byte, body []byte, v byte) error {
	prev := p.Topic
	*p = Publish{
		Dup:    flags&0x08 != 0,
		QoS:    flags >> 1 & 0x03,
		Retain: flags&0x01 != 0,
	}
	if p.QoS == 3 {
		return malformed("PUBLISH QoS 3") // [MQTT-3.3.1-4]
	}
	if p.Dup && p.QoS == 0 {
		return malformed("PUBLISH DUP set on QoS 0") // [MQTT-3.3.1-2]
	}
	d := decoder{b: body}
	name := d.rawBytes("topic name")
	if p.QoS > 0 {
		p.PacketID = d.uint16("packet identifier")
		if d.err == nil && p.PacketID == 0 {
			return protocolErr("PUBLISH packet identifier 0") // [MQTT-2.2.1-3]
		}
	}
	if v == Version5 {
		d.properties(&p.Properties, inPublish)
	}
	if d.err != nil {
		return d.err
	}
	if string(name) == prev {
		p.Topic = prev // no allocation for the comparison
	} else {
		p.Topic = string(name)
	}
	switch err := topic.ValidName(p.Topic); err {
	case nil:
	case topic.ErrEmpty:
		if v != Version5 {
			return &Error{Code: TopicNameInvalid, Reason: "PUBLISH with empty topic name"} // [MQTT-4.7.3-1]
		}
		if !p.Properties.Has(PropTopicAlias) {
			return protocolErr("PUBLISH with empty topic name and no topic alias") // 3.3.2.3.4
		}
	case topic.ErrWildcardInName:
		// [MQTT-3.3.2-2]; a protocol error (0x82) as Mosquitto has it,
		// where 0x90 would do too.
		return protocolErr("PUBLISH topic name contains a wildcard")
	case topic.ErrTooDeep:
		// Mosquitto refuses it in the check that refuses wildcards.
		return protocolErr("PUBLISH topic name has more than 200 '/'")
	default:
		return malformed("PUBLISH topic name is not a well-formed UTF-8 string") // [MQTT-1.5.4-1]
	}
	if p.Properties.Has(PropResponseTopic) && !ValidTopicName(p.Properties.ResponseTopic) {
		return protocolErr("PUBLISH Response Topic is not a valid topic name") // [MQTT-3.3.2-14]
	}
	if rest := d.rest(); len(rest) > 0 {
		p.Payload = append(make([]byte, 0, len(rest)), rest...)
	}
	return nil
}

// Ack is one of the four packets that acknowledge a PUBLISH: PUBACK (3.4),
// PUBREC (3.5), PUBREL (3.6) and PUBCOMP (3.7), told apart by Kind.
type Ack struct {
	Kind       Type // TypePuback, TypePubrec, TypePubrel or TypePubcomp
	PacketID   uint16
	ReasonCode ReasonCode // MQTT 5 only
	Properties Properties // MQTT 5 only: Reason String and User Property
}

// Type returns p.Kind.
func (p *Ack) Type() Type { return p.Kind }

func (p *Ack) flags() byte {
	if p.Kind == TypePubrel {
		return 0x02 // [MQTT-3.6.1-1]
	}
	return 0
}

func (p *Ack) size(v byte) int {
	return 2 + reasonTailSize(v, p.ReasonCode, &p.Properties, inPubAck) // 3.4.2.1
}

func (p *Ack) check(v byte) error {
	if p.Kind < TypePuback || p.Kind > TypePubcomp {
		return encodeErr("Ack of kind %v", p.Kind)
	}
	if p.PacketID == 0 {
		return encodeErr("%v without packet identifier", p.Kind)
	}
	if v == Version5 {
		if !p.ReasonCode.ValidFor(p.Kind, v) {
			return encodeErr("%v reason code 0x%02x", p.Kind, byte(p.ReasonCode))
		}
		return p.Properties.check(inPubAck)
	}
	return nil
}

func (p *Ack) appendBody(b []byte, v byte) []byte {
	b = appendUint16(b, p.PacketID)
	return appendReasonTail(b, p.size(v)-2, p.ReasonCode, &p.Properties, inPubAck)
}

func decodeAck(t Type, body []byte, v byte) (*Ack, error) {
	p := &Ack{}
	if err := p.decodeBody(t, body, v); err != nil {
		return nil, err
	}
	return p, nil
}

// Decode decodes a PUBACK, PUBREC, PUBREL or PUBCOMP with fixed header h
// and body into p, as Decode would, so that a receiver can reuse one Ack
// for every acknowledgement instead of allocating each.
func (p *Ack) Decode(h FixedHeader, body []byte, v byte) error {
	switch h.Type {
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
	default:
		return malformed(h.Type.String() + " is not an acknowledgement")
	}
	if err := checkFlags(h, v); err != nil {
		return err
	}
	return p.decodeBody(h.Type, body, v)
}

func (p *Ack) decodeBody(t Type, body []byte, v byte) error {
	d := decoder{b: body}
	*p = Ack{Kind: t}
	p.PacketID = d.uint16("packet identifier")
	if d.err != nil {
		return d.err
	}
	if p.PacketID == 0 {
		return protocolErr(t.String() + " packet identifier 0") // [MQTT-2.2.1-3]
	}
	if v == Version5 && d.remaining() > 0 {
		p.ReasonCode = ReasonCode(d.byte("reason code"))
		if !p.ReasonCode.ValidFor(t, v) {
			// [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1]
			return protocolErr(t.String() + " reason code 0x" + hex2(byte(p.ReasonCode)))
		}
		if d.remaining() > 0 {
			d.properties(&p.Properties, inPubAck)
		}
	}
	d.end(t.String())
	return d.err
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
