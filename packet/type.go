package packet

import "strconv"

// Type is the MQTT control packet type, the high four bits of the first byte.
type Type byte

// The control packet types.
const (
	TypeConnect     Type = 1
	TypeConnack     Type = 2
	TypePublish     Type = 3
	TypePuback      Type = 4
	TypePubrec      Type = 5
	TypePubrel      Type = 6
	TypePubcomp     Type = 7
	TypeSubscribe   Type = 8
	TypeSuback      Type = 9
	TypeUnsubscribe Type = 10
	TypeUnsuback    Type = 11
	TypePingreq     Type = 12
	TypePingresp    Type = 13
	TypeDisconnect  Type = 14
	TypeAuth        Type = 15 // MQTT 5 only
)

var typeNames = [...]string{
	TypeConnect: "CONNECT", TypeConnack: "CONNACK", TypePublish: "PUBLISH", TypePuback: "PUBACK",
	TypePubrec: "PUBREC", TypePubrel: "PUBREL", TypePubcomp: "PUBCOMP", TypeSubscribe: "SUBSCRIBE",
	TypeSuback: "SUBACK", TypeUnsubscribe: "UNSUBSCRIBE", TypeUnsuback: "UNSUBACK", TypePingreq: "PINGREQ",
	TypePingresp: "PINGRESP", TypeDisconnect: "DISCONNECT", TypeAuth: "AUTH",
}

// String returns the packet type's name as the specification writes it, such
// as "PUBLISH".
func (t Type) String() string {
	if t >= TypeConnect && t <= TypeAuth {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Protocol levels, the Protocol Version byte of CONNECT.
const (
	Version31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"
	Version311 byte = 4 // MQTT 3.1.1, protocol name "MQTT"
	Version5   byte = 5 // MQTT 5.0, protocol name "MQTT"
)

// QoS levels.
const (
	QoS0 byte = 0 // at most once
	QoS1 byte = 1 // at least once
	QoS2 byte = 2 // exactly once
)

// MaxRemainingLength is the largest Remaining Length a variable byte integer
// of four bytes can express (256 MB - 1).
const MaxRemainingLength = 268435455

// MaxSubscriptionID is the largest Subscription Identifier (MQTT 5 3.8.2.1.2).
const MaxSubscriptionID = 268435455

// FixedHeader is the first part of every control packet.
type FixedHeader struct {
	Type      Type
	Flags     byte // the low four bits of the first byte
	Remaining int  // Remaining Length: the size of the variable header and payload
}

// Size returns the number of bytes the whole packet occupies on the wire.
func (h FixedHeader) Size() int { return 1 + varintLen(uint32(h.Remaining)) + h.Remaining }

// Append appends the header as it goes on the wire: the type and flags
// byte, then Remaining as a variable byte integer. Remaining must be from 0
// to MaxRemainingLength.
func (h FixedHeader) Append(b []byte) []byte {
	return appendVarint(append(b, byte(h.Type)<<4|h.Flags&0x0f), uint32(h.Remaining))
}

// Packet is one decoded control packet: *Connect, *Connack, *Publish, *Ack,
// *Subscribe, *Suback, *Unsubscribe, *Unsuback, *Pingreq, *Pingresp,
// *Disconnect or *Auth.
type Packet interface {
	// Type returns the control packet type.
	Type() Type
	// size returns the Remaining Length of the packet encoded for version v.
	size(v byte) int
	// appendBody appends the variable header and payload for version v.
	// size(v) must have been checked to be representable.
	appendBody(b []byte, v byte) []byte
	// flags returns the low four bits of the fixed header's first byte.
	flags() byte
	// check reports whether the packet can be encoded for version v.
	check(v byte) error
}
