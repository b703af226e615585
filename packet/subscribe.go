package packet

import (
	"strings"

	"github.com/midge-mqtt/midge/internal/topic"
)

// Retain Handling values of a subscription (3.8.3.1).
const (
	RetainSendOnSubscribe       byte = 0 // send retained messages at subscribe
	RetainSendIfNewSubscription byte = 1 // only if the subscription did not exist
	RetainDoNotSend             byte = 2 // never at subscribe
)

// Subscription is one Topic Filter of a SUBSCRIBE with its options: Filter,
// QoS (the maximum QoS), and for MQTT 5 NoLocal, RetainAsPublished,
// RetainHandling (RetainSendOnSubscribe ...) and ID. The Subscription
// Identifier travels once per SUBSCRIBE, as Properties.SubscriptionIDs: the
// decoder leaves ID 0, and the encoder refuses an ID that differs from that
// property. It is the one declaration of subscription options, shared with
// the broker, its store and the client.
type Subscription = topic.Subscription

// Subscribe is the SUBSCRIBE packet (3.8).
type Subscribe struct {
	PacketID      uint16
	Subscriptions []Subscription
	Properties    Properties // MQTT 5: one Subscription Identifier, User Property
}

// Type returns TypeSubscribe.
func (*Subscribe) Type() Type  { return TypeSubscribe }
func (*Subscribe) flags() byte { return 0x02 } // [MQTT-3.8.1-1]

func (p *Subscribe) size(v byte) int {
	n := idPropertiesSize(v, &p.Properties, inSubscribe)
	for _, s := range p.Subscriptions {
		n += 2 + len(s.Filter) + 1
	}
	return n
}

func (p *Subscribe) check(v byte) error {
	if p.PacketID == 0 || len(p.Subscriptions) == 0 {
		return encodeErr("SUBSCRIBE needs a packet identifier and a filter")
	}
	for _, s := range p.Subscriptions {
		if !ValidTopicFilter(s.Filter) || s.QoS > 2 || s.RetainHandling > 2 {
			return encodeErr("SUBSCRIBE filter %q or its options invalid", s.Filter)
		}
		if v == Version5 && s.NoLocal && strings.HasPrefix(s.Filter, topic.SharePrefix) {
			return encodeErr("SUBSCRIBE No Local on shared subscription %q", s.Filter) // [MQTT-3.8.3-4]
		}
		if s.ID != 0 && (v != Version5 || len(p.Properties.SubscriptionIDs) != 1 || p.Properties.SubscriptionIDs[0] != s.ID) {
			return encodeErr("SUBSCRIBE filter %q with Subscription Identifier %d not in Properties.SubscriptionIDs", s.Filter, s.ID)
		}
	}
	if v == Version5 {
		if len(p.Properties.SubscriptionIDs) > 1 {
			return encodeErr("SUBSCRIBE with more than one Subscription Identifier")
		}
		return p.Properties.check(inSubscribe)
	}
	return nil
}

// appendIDProperties appends the variable header SUBSCRIBE, SUBACK,
// UNSUBSCRIBE and UNSUBACK share: packet identifier id, then in MQTT 5 the
// properties props as allowed at pl.
func appendIDProperties(b []byte, v byte, id uint16, props *Properties, pl place) []byte {
	b = appendUint16(b, id)
	if v == Version5 {
		b = props.appendTo(b, pl)
	}
	return b
}

// idPropertiesSize is the size of what appendIDProperties appends.
func idPropertiesSize(v byte, props *Properties, pl place) int {
	n := 2
	if v == Version5 {
		n += props.fullSize(pl)
	}
	return n
}

func (p *Subscribe) appendBody(b []byte, v byte) []byte {
	b = appendIDProperties(b, v, p.PacketID, &p.Properties, inSubscribe)
	for _, s := range p.Subscriptions {
		b = appendString(b, s.Filter)
		o := s.QoS
		if v == Version5 {
			if s.NoLocal {
				o |= 0x04
			}
			if s.RetainAsPublished {
				o |= 0x08
			}
			o |= s.RetainHandling << 4
		}
		b = append(b, o)
	}
	return b
}

// subscribeHeader reads the variable header SUBSCRIBE and UNSUBSCRIBE
// share into id and props: a packet identifier, then in MQTT 5 the
// properties allowed at pl. It fails only for packet identifier 0; other
// errors stay in d.err.
func (d *decoder) subscribeHeader(name string, v byte, id *uint16, props *Properties, pl place) error {
	*id = d.uint16("packet identifier")
	if d.err == nil && *id == 0 {
		return malformed(name + " packet identifier 0") // [MQTT-2.2.1-3] (Mosquitto: malformed, 0x81)
	}
	if v == Version5 {
		d.properties(props, pl)
	}
	return nil
}

func decodeSubscribe(body []byte, v byte) (*Subscribe, error) {
	d := decoder{b: body}
	p := &Subscribe{}
	if err := d.subscribeHeader("SUBSCRIBE", v, &p.PacketID, &p.Properties, inSubscribe); err != nil {
		return nil, err
	}
	if v == Version5 && d.err == nil && len(p.Properties.SubscriptionIDs) > 1 {
		return nil, protocolErr("SUBSCRIBE with more than one Subscription Identifier") // 3.8.2.1.2
	}
	for d.err == nil && d.remaining() > 0 {
		var s Subscription
		s.Filter = d.string("topic filter")
		o := d.byte("subscription options")
		if d.err != nil {
			break
		}
		if !ValidTopicFilter(s.Filter) {
			return nil, malformed("SUBSCRIBE invalid topic filter " + quote(s.Filter)) // [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.8.2-1]
		}
		s.QoS = o & 0x03
		if v == Version5 {
			if o&0xc0 != 0 {
				return nil, malformed("SUBSCRIBE reserved option bits set") // [MQTT-3.8.3-5]
			}
			if s.QoS == 3 {
				return nil, malformed("SUBSCRIBE Maximum QoS 3") // 3.8.3.1 (Mosquitto: malformed, 0x81)
			}
			s.NoLocal = o&0x04 != 0
			s.RetainAsPublished = o&0x08 != 0
			s.RetainHandling = o >> 4 & 0x03
			if s.RetainHandling == 3 {
				return nil, malformed("SUBSCRIBE Retain Handling 3") // 3.8.3.1 (Mosquitto: malformed, 0x81)
			}
			if s.NoLocal && strings.HasPrefix(s.Filter, topic.SharePrefix) {
				return nil, protocolErr("SUBSCRIBE No Local on a shared subscription") // [MQTT-3.8.3-4]
			}
		} else if o&0xfc != 0 || s.QoS == 3 {
			return nil, malformed("SUBSCRIBE reserved option bits set or QoS 3") // [MQTT-3-8.3-4] (3.1.1)
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(p.Subscriptions) == 0 {
		// [MQTT-3.8.3-3]: a SUBSCRIBE with no payload is a protocol violation.
		return nil, malformed("SUBSCRIBE without topic filters") // (Mosquitto: malformed, 0x81)
	}
	return p, nil
}

// Suback is the SUBACK packet (3.9).
type Suback struct {
	PacketID    uint16
	ReasonCodes []ReasonCode // one per filter of the SUBSCRIBE, in order
	Properties  Properties   // MQTT 5: Reason String, User Property
}

// Type returns TypeSuback.
func (*Suback) Type() Type  { return TypeSuback }
func (*Suback) flags() byte { return 0 }

func (p *Suback) size(v byte) int {
	return idPropertiesSize(v, &p.Properties, inSuback) + len(p.ReasonCodes)
}

func (p *Suback) check(v byte) error {
	if p.PacketID == 0 || len(p.ReasonCodes) == 0 {
		return encodeErr("SUBACK needs a packet identifier and a reason code")
	}
	if err := checkReasonCodes(TypeSuback, v, p.ReasonCodes); err != nil {
		return err
	}
	if v == Version5 {
		return p.Properties.check(inSuback)
	}
	return nil
}

func (p *Suback) appendBody(b []byte, v byte) []byte {
	b = appendIDProperties(b, v, p.PacketID, &p.Properties, inSuback)
	return appendReasonCodes(b, p.ReasonCodes)
}

func decodeSuback(body []byte, v byte) (*Suback, error) {
	d := decoder{b: body}
	p := &Suback{}
	p.PacketID = d.uint16("packet identifier")
	if v == Version5 {
		d.properties(&p.Properties, inSuback)
	}
	if d.err != nil {
		return nil, d.err
	}
	if p.PacketID == 0 {
		return nil, protocolErr("SUBACK packet identifier 0")
	}
	var err error
	if p.ReasonCodes, err = decodeReasonCodes(&d, TypeSuback, v); err != nil { // [MQTT-3.9.3-2]
		return nil, err
	}
	return p, nil
}

// Unsubscribe is the UNSUBSCRIBE packet (3.10).
type Unsubscribe struct {
	PacketID   uint16
	Filters    []string
	Properties Properties // MQTT 5: User Property
}

// Type returns TypeUnsubscribe.
func (*Unsubscribe) Type() Type  { return TypeUnsubscribe }
func (*Unsubscribe) flags() byte { return 0x02 } // [MQTT-3.10.1-1]

func (p *Unsubscribe) size(v byte) int {
	n := idPropertiesSize(v, &p.Properties, inUnsubscribe)
	for _, f := range p.Filters {
		n += 2 + len(f)
	}
	return n
}

func (p *Unsubscribe) check(v byte) error {
	if p.PacketID == 0 || len(p.Filters) == 0 {
		return encodeErr("UNSUBSCRIBE needs a packet identifier and a filter")
	}
	for _, f := range p.Filters {
		if !ValidTopicFilter(f) {
			return encodeErr("UNSUBSCRIBE filter %q", f)
		}
	}
	if v == Version5 {
		return p.Properties.check(inUnsubscribe)
	}
	return nil
}

func (p *Unsubscribe) appendBody(b []byte, v byte) []byte {
	b = appendIDProperties(b, v, p.PacketID, &p.Properties, inUnsubscribe)
	for _, f := range p.Filters {
		b = appendString(b, f)
	}
	return b
}

func decodeUnsubscribe(body []byte, v byte) (*Unsubscribe, error) {
	d := decoder{b: body}
	p := &Unsubscribe{}
	if err := d.subscribeHeader("UNSUBSCRIBE", v, &p.PacketID, &p.Properties, inUnsubscribe); err != nil {
		return nil, err
	}
	for d.err == nil && d.remaining() > 0 {
		f := d.string("topic filter")
		if d.err == nil && !ValidTopicFilter(f) {
			return nil, malformed("UNSUBSCRIBE invalid topic filter " + quote(f))
		}
		p.Filters = append(p.Filters, f)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(p.Filters) == 0 {
		return nil, malformed("UNSUBSCRIBE without topic filters") // [MQTT-3.10.3-2] (Mosquitto: malformed, 0x81)
	}
	return p, nil
}

// Unsuback is the UNSUBACK packet (3.11).
type Unsuback struct {
	PacketID    uint16
	ReasonCodes []ReasonCode // MQTT 5 only: one per filter, in order
	Properties  Properties   // MQTT 5: Reason String, User Property
}

// Type returns TypeUnsuback.
func (*Unsuback) Type() Type  { return TypeUnsuback }
func (*Unsuback) flags() byte { return 0 }

func (p *Unsuback) size(v byte) int {
	if v != Version5 {
		return 2
	}
	return 2 + p.Properties.fullSize(inUnsuback) + len(p.ReasonCodes)
}

func (p *Unsuback) check(v byte) error {
	if p.PacketID == 0 {
		return encodeErr("UNSUBACK without packet identifier")
	}
	if v == Version5 {
		if len(p.ReasonCodes) == 0 {
			return encodeErr("UNSUBACK without reason codes")
		}
		if err := checkReasonCodes(TypeUnsuback, v, p.ReasonCodes); err != nil {
			return err
		}
		return p.Properties.check(inUnsuback)
	}
	return nil
}

func (p *Unsuback) appendBody(b []byte, v byte) []byte {
	b = appendIDProperties(b, v, p.PacketID, &p.Properties, inUnsuback)
	if v == Version5 {
		b = appendReasonCodes(b, p.ReasonCodes)
	}
	return b
}

func decodeUnsuback(body []byte, v byte) (*Unsuback, error) {
	d := decoder{b: body}
	p := &Unsuback{}
	p.PacketID = d.uint16("packet identifier")
	if d.err == nil && p.PacketID == 0 {
		return nil, protocolErr("UNSUBACK packet identifier 0")
	}
	if v == Version5 {
		d.properties(&p.Properties, inUnsuback)
		if d.err != nil {
			return nil, d.err
		}
		var err error
		if p.ReasonCodes, err = decodeReasonCodes(&d, TypeUnsuback, v); err != nil { // [MQTT-3.11.3-2]
			return nil, err
		}
	}
	d.end("UNSUBACK")
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// checkReasonCodes reports the first of rcs, the reason codes of a SUBACK
// or UNSUBACK (t), that is not valid in it.
func checkReasonCodes(t Type, v byte, rcs []ReasonCode) error {
	for _, c := range rcs {
		if !c.ValidFor(t, v) {
			return encodeErr("%v reason code 0x%02x", t, byte(c))
		}
	}
	return nil
}

func appendReasonCodes(b []byte, rcs []ReasonCode) []byte {
	for _, c := range rcs {
		b = append(b, byte(c))
	}
	return b
}

// decodeReasonCodes reads the rest of a SUBACK's or UNSUBACK's (t) body:
// one or more reason codes, each valid in it.
func decodeReasonCodes(d *decoder, t Type, v byte) ([]ReasonCode, error) {
	var rcs []ReasonCode
	for _, c := range d.rest() {
		rc := ReasonCode(c)
		if !rc.ValidFor(t, v) {
			return nil, protocolErr(t.String() + " reason code 0x" + hex2(c))
		}
		rcs = append(rcs, rc)
	}
	if len(rcs) == 0 {
		return nil, protocolErr(t.String() + " without reason codes")
	}
	return rcs, nil
}
