package packet

import (
	"math/bits"
	"strconv"
)

// PropertyID identifies an MQTT 5 property (2.2.2.2).
type PropertyID byte

// The MQTT 5 properties.
const (
	PropPayloadFormat           PropertyID = 0x01 // Payload Format Indicator, byte
	PropMessageExpiry           PropertyID = 0x02 // Message Expiry Interval, four bytes
	PropContentType             PropertyID = 0x03 // Content Type, string
	PropResponseTopic           PropertyID = 0x08 // Response Topic, string
	PropCorrelationData         PropertyID = 0x09 // Correlation Data, binary
	PropSubscriptionID          PropertyID = 0x0B // Subscription Identifier, variable byte integer
	PropSessionExpiry           PropertyID = 0x11 // Session Expiry Interval, four bytes
	PropAssignedClientID        PropertyID = 0x12 // Assigned Client Identifier, string
	PropServerKeepAlive         PropertyID = 0x13 // Server Keep Alive, two bytes
	PropAuthMethod              PropertyID = 0x15 // Authentication Method, string
	PropAuthData                PropertyID = 0x16 // Authentication Data, binary
	PropRequestProblemInfo      PropertyID = 0x17 // Request Problem Information, byte
	PropWillDelay               PropertyID = 0x18 // Will Delay Interval, four bytes
	PropRequestResponseInfo     PropertyID = 0x19 // Request Response Information, byte
	PropResponseInfo            PropertyID = 0x1A // Response Information, string
	PropServerReference         PropertyID = 0x1C // Server Reference, string
	PropReasonString            PropertyID = 0x1F // Reason String, string
	PropReceiveMaximum          PropertyID = 0x21 // Receive Maximum, two bytes
	PropTopicAliasMaximum       PropertyID = 0x22 // Topic Alias Maximum, two bytes
	PropTopicAlias              PropertyID = 0x23 // Topic Alias, two bytes
	PropMaximumQoS              PropertyID = 0x24 // Maximum QoS, byte
	PropRetainAvailable         PropertyID = 0x25 // Retain Available, byte
	PropUser                    PropertyID = 0x26 // User Property, string pair
	PropMaximumPacketSize       PropertyID = 0x27 // Maximum Packet Size, four bytes
	PropWildcardSubAvailable    PropertyID = 0x28 // Wildcard Subscription Available, byte
	PropSubscriptionIDAvailable PropertyID = 0x29 // Subscription Identifier Available, byte
	PropSharedSubAvailable      PropertyID = 0x2A // Shared Subscription Available, byte
)

// UserProperty is one name-value pair of the User Property (0x26).
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5 properties of a packet or of a will. A property
// is present when Has reports so: set the field and call Set, or use the
// Set* helpers. User and SubscriptionIDs are present when non-empty. The zero
// value has no properties. 3.1/3.1.1 packets carry none.
//
// Append writes properties by identifier, except that those a decoder read
// keep the order they came in (properties set later follow them), a
// CONNACK's come in Mosquitto's order and a PUBLISH has its Subscription
// Identifiers first and its Message Expiry Interval last, as Mosquitto
// forwards a message. Copying a Properties copies that order.
type Properties struct {
	present uint64 // bit n set: property with identifier n is present
	// order is the order in which the decoder read the properties, which
	// Append keeps (order.go); all zero for by identifier.
	order [orderLen]byte

	PayloadFormat           byte
	MessageExpiry           uint32
	ContentType             string
	ResponseTopic           string
	CorrelationData         []byte
	SubscriptionIDs         []uint32 // at most one in SUBSCRIBE; several in PUBLISH to a client
	SessionExpiry           uint32
	AssignedClientID        string
	ServerKeepAlive         uint16
	AuthMethod              string
	AuthData                []byte
	RequestProblemInfo      byte
	WillDelay               uint32
	RequestResponseInfo     byte
	ResponseInfo            string
	ServerReference         string
	ReasonString            string
	ReceiveMaximum          uint16
	TopicAliasMaximum       uint16
	TopicAlias              uint16
	MaximumQoS              byte
	RetainAvailable         byte
	User                    []UserProperty
	MaximumPacketSize       uint32
	WildcardSubAvailable    byte
	SubscriptionIDAvailable byte
	SharedSubAvailable      byte
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropertyID) bool {
	switch id {
	case PropUser:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return id < 64 && p.present&(1<<id) != 0
}

// Set marks property id present; its value is the field's. It does nothing
// for User Property and Subscription Identifier, which are present when their
// slices are non-empty, nor for an identifier that is not a property.
func (p *Properties) Set(id PropertyID) {
	if _, ok := id.info(); ok && id != PropUser && id != PropSubscriptionID {
		p.present |= 1 << id
	}
}

// Clear marks property id absent. For User and SubscriptionIDs it empties the
// slice. A property cleared and set again is no longer written in the order
// it was decoded in, but after those that are.
func (p *Properties) Clear(id PropertyID) {
	p.forget(id)
	switch id {
	case PropUser:
		p.User = nil
	case PropSubscriptionID:
		p.SubscriptionIDs = nil
	}
	if id < 64 {
		p.present &^= 1 << id
	}
}

// Empty reports whether no property is present.
func (p *Properties) Empty() bool {
	return p.present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// SetUint sets a byte, two-byte, four-byte or variable-byte-integer property
// (other than Subscription Identifier) to v and marks it present. It panics if
// id is not such a property, which is a programming error.
func (p *Properties) SetUint(id PropertyID, v uint32) {
	if f := p.byteField(id); f != nil {
		*f = byte(v)
	} else if f := p.uint16Field(id); f != nil {
		*f = uint16(v)
	} else if f := p.uint32Field(id); f != nil {
		*f = v
	} else {
		panic("packet: SetUint on property " + id.String())
	}
	p.Set(id)
}

// SetString sets a string property to s and marks it present. It panics if id
// is not a string property.
func (p *Properties) SetString(id PropertyID, s string) {
	f := p.stringField(id)
	if f == nil {
		panic("packet: SetString on property " + id.String())
	}
	*f = s
	p.Set(id)
}

// byteField returns the field of a one-byte property, nil if id is none.
func (p *Properties) byteField(id PropertyID) *byte {
	switch id {
	case PropPayloadFormat:
		return &p.PayloadFormat
	case PropRequestProblemInfo:
		return &p.RequestProblemInfo
	case PropRequestResponseInfo:
		return &p.RequestResponseInfo
	case PropMaximumQoS:
		return &p.MaximumQoS
	case PropRetainAvailable:
		return &p.RetainAvailable
	case PropWildcardSubAvailable:
		return &p.WildcardSubAvailable
	case PropSubscriptionIDAvailable:
		return &p.SubscriptionIDAvailable
	case PropSharedSubAvailable:
		return &p.SharedSubAvailable
	}
	return nil
}

// uint16Field returns the field of a two-byte property, nil if id is none.
func (p *Properties) uint16Field(id PropertyID) *uint16 {
	switch id {
	case PropServerKeepAlive:
		return &p.ServerKeepAlive
	case PropReceiveMaximum:
		return &p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return &p.TopicAliasMaximum
	case PropTopicAlias:
		return &p.TopicAlias
	}
	return nil
}

// uint32Field returns the field of a four-byte property, nil if id is none.
func (p *Properties) uint32Field(id PropertyID) *uint32 {
	switch id {
	case PropMessageExpiry:
		return &p.MessageExpiry
	case PropSessionExpiry:
		return &p.SessionExpiry
	case PropWillDelay:
		return &p.WillDelay
	case PropMaximumPacketSize:
		return &p.MaximumPacketSize
	}
	return nil
}

// stringField returns the field of a string property, nil if id is none.
func (p *Properties) stringField(id PropertyID) *string {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	case PropReasonString:
		return &p.ReasonString
	}
	return nil
}

// propKind is the data type of a property's value.
type propKind byte

const (
	kindByte propKind = iota
	kindUint16
	kindUint32
	kindVarint
	kindString
	kindBinary
	kindPair
)

// place is where a property may appear; a property's places form a bit set.
type place uint16

const (
	inConnect place = 1 << iota
	inWill
	inConnack
	inPublish
	inPubAck // PUBACK, PUBREC, PUBREL, PUBCOMP
	inSubscribe
	inSuback
	inUnsubscribe
	inUnsuback
	inDisconnect
	inAuth
)

var placeNames = [...]string{"CONNECT", "will", "CONNACK", "PUBLISH", "acknowledgement", "SUBSCRIBE",
	"SUBACK", "UNSUBSCRIBE", "UNSUBACK", "DISCONNECT", "AUTH"}

func (pl place) String() string {
	for i, n := range placeNames {
		if pl == 1<<i {
			return n
		}
	}
	return "packet"
}

type propInfo struct {
	name   string
	kind   propKind
	places place
}

var propTable = [0x2B]propInfo{
	PropPayloadFormat:           {"Payload Format Indicator", kindByte, inPublish | inWill},
	PropMessageExpiry:           {"Message Expiry Interval", kindUint32, inPublish | inWill},
	PropContentType:             {"Content Type", kindString, inPublish | inWill},
	PropResponseTopic:           {"Response Topic", kindString, inPublish | inWill},
	PropCorrelationData:         {"Correlation Data", kindBinary, inPublish | inWill},
	PropSubscriptionID:          {"Subscription Identifier", kindVarint, inPublish | inSubscribe},
	PropSessionExpiry:           {"Session Expiry Interval", kindUint32, inConnect | inConnack | inDisconnect},
	PropAssignedClientID:        {"Assigned Client Identifier", kindString, inConnack},
	PropServerKeepAlive:         {"Server Keep Alive", kindUint16, inConnack},
	PropAuthMethod:              {"Authentication Method", kindString, inConnect | inConnack | inAuth},
	PropAuthData:                {"Authentication Data", kindBinary, inConnect | inConnack | inAuth},
	PropRequestProblemInfo:      {"Request Problem Information", kindByte, inConnect},
	PropWillDelay:               {"Will Delay Interval", kindUint32, inWill},
	PropRequestResponseInfo:     {"Request Response Information", kindByte, inConnect},
	PropResponseInfo:            {"Response Information", kindString, inConnack},
	PropServerReference:         {"Server Reference", kindString, inConnack | inDisconnect},
	PropReasonString:            {"Reason String", kindString, inConnack | inPubAck | inSuback | inUnsuback | inDisconnect | inAuth},
	PropReceiveMaximum:          {"Receive Maximum", kindUint16, inConnect | inConnack},
	PropTopicAliasMaximum:       {"Topic Alias Maximum", kindUint16, inConnect | inConnack},
	PropTopicAlias:              {"Topic Alias", kindUint16, inPublish},
	PropMaximumQoS:              {"Maximum QoS", kindByte, inConnack},
	PropRetainAvailable:         {"Retain Available", kindByte, inConnack},
	PropUser:                    {"User Property", kindPair, inConnect | inWill | inConnack | inPublish | inPubAck | inSubscribe | inSuback | inUnsubscribe | inUnsuback | inDisconnect | inAuth},
	PropMaximumPacketSize:       {"Maximum Packet Size", kindUint32, inConnect | inConnack},
	PropWildcardSubAvailable:    {"Wildcard Subscription Available", kindByte, inConnack},
	PropSubscriptionIDAvailable: {"Subscription Identifier Available", kindByte, inConnack},
	PropSharedSubAvailable:      {"Shared Subscription Available", kindByte, inConnack},
}

// mask returns the set of present properties as a bit set (bit n for
// identifier n), User Property and Subscription Identifier included. Walking
// its bits from the lowest gives the order in which Append writes
// properties: by identifier.
func (p *Properties) mask() uint64 {
	m := p.present
	if len(p.SubscriptionIDs) > 0 {
		m |= 1 << PropSubscriptionID
	}
	if len(p.User) > 0 {
		m |= 1 << PropUser
	}
	return m
}

func (id PropertyID) info() (propInfo, bool) {
	if int(id) < len(propTable) && propTable[id].name != "" {
		return propTable[id], true
	}
	return propInfo{}, false
}

// String returns the property's name as the specification writes it.
func (id PropertyID) String() string {
	if info, ok := id.info(); ok {
		return info.name
	}
	return "Property(0x" + strconv.FormatUint(uint64(id), 16) + ")"
}

// uintValue returns the numeric value of a byte, two- or four-byte property.
func (p *Properties) uintValue(id PropertyID) uint32 {
	if f := p.byteField(id); f != nil {
		return uint32(*f)
	}
	if f := p.uint16Field(id); f != nil {
		return uint32(*f)
	}
	if f := p.uint32Field(id); f != nil {
		return *f
	}
	return 0
}

// stringValue returns the value of a string property.
func (p *Properties) stringValue(id PropertyID) string {
	if f := p.stringField(id); f != nil {
		return *f
	}
	return ""
}

func (p *Properties) binaryValue(id PropertyID) []byte {
	if id == PropCorrelationData {
		return p.CorrelationData
	}
	return p.AuthData
}

// size returns the length of the encoded properties without the length
// prefix. Properties not allowed at pl are left out.
func (p *Properties) size(pl place) int {
	if p.Empty() {
		return 0
	}
	n := 0
	for m := p.mask(); m != 0; m &= m - 1 {
		id := PropertyID(bits.TrailingZeros64(m))
		info := propTable[id]
		if info.places&pl == 0 {
			continue
		}
		switch info.kind {
		case kindByte:
			n += 2
		case kindUint16:
			n += 3
		case kindUint32:
			n += 5
		case kindVarint:
			for _, v := range p.SubscriptionIDs {
				n += 1 + varintLen(v)
			}
		case kindString:
			n += 3 + len(p.stringValue(id))
		case kindBinary:
			n += 3 + len(p.binaryValue(id))
		case kindPair:
			for _, u := range p.User {
				n += 5 + len(u.Key) + len(u.Value)
			}
		}
	}
	return n
}

// fullSize returns the size including the variable byte integer length prefix.
func (p *Properties) fullSize(pl place) int {
	n := p.size(pl)
	return varintLen(uint32(n)) + n
}

// connackOrder is the order in which Mosquitto writes a CONNACK's
// properties; appendTo writes them first in this order, then any other by
// identifier. MQTT 5 leaves the order free (only User Properties keep
// theirs), but clients that compare bytes with Mosquitto's expect it.
var connackOrder = [...]PropertyID{PropTopicAliasMaximum, PropServerKeepAlive, PropAssignedClientID,
	PropAuthMethod, PropAuthData, PropRetainAvailable, PropMaximumPacketSize, PropReceiveMaximum, PropMaximumQoS}

// connackFirst is the set of connackOrder's identifiers.
var connackFirst = func() uint64 {
	var m uint64
	for _, id := range connackOrder {
		m |= 1 << id
	}
	return m
}()

// appendTo appends the length-prefixed properties allowed at pl: in a
// CONNACK in Mosquitto's order, elsewhere in the order they were decoded in
// (appendOrdered); in a PUBLISH, as Mosquitto forwards one, the
// Subscription Identifiers first and the Message Expiry Interval last.
func (p *Properties) appendTo(b []byte, pl place) []byte {
	b = appendVarint(b, uint32(p.size(pl)))
	mask := p.mask()
	switch pl {
	case inConnack:
		for _, id := range connackOrder {
			if mask&(1<<id) != 0 {
				b = p.appendOne(b, id)
			}
		}
		mask &^= connackFirst
	case inPublish:
		if mask&(1<<PropSubscriptionID) != 0 {
			b = p.appendOne(b, PropSubscriptionID)
			mask &^= 1 << PropSubscriptionID
		}
	}
	return p.appendOrdered(b, mask, pl)
}

// appendOne appends property id (every value of a repeated one).
func (p *Properties) appendOne(b []byte, id PropertyID) []byte {
	switch propTable[id].kind {
	case kindByte:
		b = append(b, byte(id), byte(p.uintValue(id)))
	case kindUint16:
		b = appendUint16(append(b, byte(id)), uint16(p.uintValue(id)))
	case kindUint32:
		b = appendUint32(append(b, byte(id)), p.uintValue(id))
	case kindVarint:
		for _, v := range p.SubscriptionIDs {
			b = appendVarint(append(b, byte(id)), v)
		}
	case kindString:
		b = appendString(append(b, byte(id)), p.stringValue(id))
	case kindBinary:
		b = appendBinary(append(b, byte(id)), p.binaryValue(id))
	case kindPair:
		b = appendUsers(b, p.User)
	}
	return b
}

// check reports whether the properties can be encoded at pl: every present
// property allowed there, lengths within 65535 bytes, values in the range the
// decoder accepts.
func (p *Properties) check(pl place) error {
	for m := p.mask(); m != 0; m &= m - 1 {
		id := PropertyID(bits.TrailingZeros64(m))
		info := propTable[id]
		if info.places&pl == 0 {
			return encodeErr("property %s not allowed in %s", info.name, pl)
		}
		if r := p.valueProblem(id); r != "" && !lenient(id, pl) {
			return encodeErr("%s", r)
		}
		switch info.kind {
		case kindString:
			if !ValidString(p.stringValue(id)) {
				return encodeErr("property %s is not a valid UTF-8 string", info.name)
			}
		case kindBinary:
			if len(p.binaryValue(id)) > 65535 {
				return encodeErr("property %s longer than 65535 bytes", info.name)
			}
		case kindVarint:
			for _, v := range p.SubscriptionIDs {
				if v == 0 || v > MaxSubscriptionID {
					return encodeErr("subscription identifier %d out of range", v)
				}
			}
			if len(p.SubscriptionIDs) > 1 && pl != inPublish {
				return encodeErr("more than one Subscription Identifier in %s", pl)
			}
		case kindPair:
			for _, u := range p.User {
				if !ValidString(u.Key) || !ValidString(u.Value) {
					return encodeErr("user property %q is not a valid UTF-8 string pair", u.Key)
				}
			}
		}
	}
	return nil
}

// properties reads a length-prefixed property set allowed at pl into p,
// validating identifiers, repeats and values (2.2.2.2, 3.x.2.x).
func (d *decoder) properties(p *Properties, pl place) {
	n := d.varint("property length")
	if d.err != nil {
		return
	}
	if int(n) > d.remaining() {
		d.fail(&Error{Code: MalformedPacket, Reason: "property length exceeds packet", InProperties: true})
		return
	}
	end := d.i + int(n)
	sub := decoder{b: d.b[:end], i: d.i}
	var rec recorder
	for sub.err == nil && sub.i < end {
		id := PropertyID(sub.varint("property identifier"))
		if sub.err != nil {
			break
		}
		info, ok := id.info()
		if !ok {
			sub.fail(malformed("unknown property identifier 0x" + strconv.FormatUint(uint64(id), 16)))
			break
		}
		if info.places&pl == 0 {
			// A property identifier not valid for the packet type makes it
			// malformed (2.2.2.2).
			sub.fail(malformed("property " + info.name + " not allowed in " + pl.String()))
			break
		}
		if id != PropUser && !(id == PropSubscriptionID && pl == inPublish) && p.Has(id) {
			sub.fail(protocolErr("property " + info.name + " included more than once"))
			break
		}
		switch info.kind {
		case kindByte:
			v := sub.byte(info.name)
			p.SetUint(id, uint32(v))
		case kindUint16:
			p.SetUint(id, uint32(sub.uint16(info.name)))
		case kindUint32:
			p.SetUint(id, sub.uint32(info.name))
		case kindVarint:
			v := sub.varint(info.name)
			if sub.err == nil && v == 0 {
				// 3.8.2.1.2, 3.3.2.3.8; Mosquitto calls it malformed (0x81) in
				// a SUBSCRIBE.
				if pl == inSubscribe {
					sub.fail(malformed("Subscription Identifier 0"))
				} else {
					sub.fail(protocolErr("Subscription Identifier 0"))
				}
			}
			if sub.err == nil {
				p.SubscriptionIDs = append(p.SubscriptionIDs, v)
			}
		case kindString:
			p.SetString(id, sub.string(info.name))
		case kindBinary:
			v := sub.binary(info.name)
			if id == PropCorrelationData {
				p.CorrelationData = v
			} else {
				p.AuthData = v
			}
			p.Set(id)
		case kindPair:
			k := sub.string("user property name")
			v := sub.string("user property value") // [MQTT-1.5.7-1]
			if sub.err == nil {
				p.User = append(p.User, UserProperty{k, v})
			}
		}
		if sub.err == nil && !lenient(id, pl) {
			if r := p.valueProblem(id); r != "" {
				if id == PropTopicAlias {
					// 3.3.2.3.4: "a Topic Alias of 0 ... is a Protocol
					// Error", answered with DISCONNECT 0x94.
					sub.fail(&Error{Code: TopicAliasInvalid, Reason: r})
				} else {
					sub.fail(protocolErr(r))
				}
			}
		}
		rec.add(id, pl)
	}
	if sub.err == nil {
		p.order = rec.order()
	}
	d.i = end
	if pe, ok := sub.err.(*Error); ok && pe.Code != TopicAliasInvalid {
		pe.InProperties = true // a new value each time: not shared
	}
	d.fail(sub.err)
}

// lenient reports whether property id's value is taken as it is at pl:
// a PUBLISH's Payload Format Indicator other than 0 or 1 is forwarded, as
// Mosquitto does (3.3.2.3.2 gives no reason code for it).
func lenient(id PropertyID, pl place) bool { return id == PropPayloadFormat && pl == inPublish }

// valueProblem returns why the value of property id is out of range (a
// Protocol Error when received), or "" if it is fine. Subscription
// Identifiers are checked where they are read and encoded.
func (p *Properties) valueProblem(id PropertyID) string {
	switch id {
	case PropPayloadFormat, PropRequestProblemInfo, PropRequestResponseInfo, PropMaximumQoS,
		PropRetainAvailable, PropWildcardSubAvailable, PropSubscriptionIDAvailable, PropSharedSubAvailable:
		if p.uintValue(id) > 1 {
			return "property " + id.String() + " must be 0 or 1" // 3.1.2.11.6-7, 3.2.2.3.4-5, 3.2.2.3.11-13, 3.3.2.3.2
		}
	case PropReceiveMaximum:
		if p.ReceiveMaximum == 0 {
			return "Receive Maximum 0" // 3.1.2.11.3, 3.2.2.3.3
		}
	case PropMaximumPacketSize:
		if p.MaximumPacketSize == 0 {
			return "Maximum Packet Size 0" // 3.1.2.11.4, 3.2.2.3.6
		}
	case PropTopicAlias:
		if p.TopicAlias == 0 {
			return "Topic Alias 0" // [MQTT-3.3.2-8]
		}
	}
	return ""
}
