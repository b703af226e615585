package packet_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// propPlace is somewhere MQTT 5 properties appear: raw builds the packet
// with the given property section, value builds it with the given set.
type propPlace struct {
	name  string
	raw   func(section []byte) []byte
	value func(packet.Properties) packet.Packet
}

// ackPlace is the property section of a PUBACK, PUBREC, PUBREL or PUBCOMP
// (kind), whose first byte is b0: packet identifier 1, reason code 0x00.
func ackPlace(kind packet.Type, b0 byte) propPlace {
	return propPlace{kind.String(),
		func(s []byte) []byte { return pkt(b0, u16(1), []byte{0}, s) },
		func(p packet.Properties) packet.Packet { return &packet.Ack{Kind: kind, PacketID: 1, Properties: p} }}
}

var propPlaces = []propPlace{
	{"CONNECT",
		func(s []byte) []byte { return connect5(0x02, s, str("c")) },
		func(p packet.Properties) packet.Packet {
			return &packet.Connect{ProtocolVersion: 5, CleanStart: true, ClientID: "c", Properties: p}
		}},
	{"will",
		func(s []byte) []byte { return connect5(0x06, plist(), str("c"), s, str("t"), str("m")) },
		func(p packet.Properties) packet.Packet {
			return &packet.Connect{ProtocolVersion: 5, CleanStart: true, ClientID: "c", Will: &packet.Will{Topic: "t", Payload: []byte("m"), Properties: p}}
		}},
	{"CONNACK",
		func(s []byte) []byte { return pkt(0x20, []byte{0, 0}, s) },
		func(p packet.Properties) packet.Packet { return &packet.Connack{Properties: p} }},
	{"PUBLISH",
		func(s []byte) []byte { return pkt(0x30, str("t"), s, []byte("payload")) },
		func(p packet.Properties) packet.Packet {
			return &packet.Publish{Topic: "t", Payload: []byte("payload"), Properties: p}
		}},
	ackPlace(packet.TypePuback, 0x40),
	ackPlace(packet.TypePubrec, 0x50),
	ackPlace(packet.TypePubrel, 0x62),
	ackPlace(packet.TypePubcomp, 0x70),
	{"SUBSCRIBE",
		func(s []byte) []byte { return pkt(0x82, u16(1), s, str("a"), []byte{1}) },
		func(p packet.Properties) packet.Packet {
			return &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a", QoS: 1}}, Properties: p}
		}},
	{"SUBACK",
		func(s []byte) []byte { return pkt(0x90, u16(1), s, []byte{1}) },
		func(p packet.Properties) packet.Packet {
			return &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{1}, Properties: p}
		}},
	{"UNSUBSCRIBE",
		func(s []byte) []byte { return pkt(0xa2, u16(1), s, str("a")) },
		func(p packet.Properties) packet.Packet {
			return &packet.Unsubscribe{PacketID: 1, Filters: []string{"a"}, Properties: p}
		}},
	{"UNSUBACK",
		func(s []byte) []byte { return pkt(0xb0, u16(1), s, []byte{0}) },
		func(p packet.Properties) packet.Packet {
			return &packet.Unsuback{PacketID: 1, ReasonCodes: []packet.ReasonCode{0}, Properties: p}
		}},
	{"DISCONNECT",
		func(s []byte) []byte { return pkt(0xe0, []byte{0}, s) },
		func(p packet.Properties) packet.Packet { return &packet.Disconnect{Properties: p} }},
	{"AUTH",
		func(s []byte) []byte { return pkt(0xf0, []byte{0x18}, s) },
		func(p packet.Properties) packet.Packet {
			return &packet.Auth{ReasonCode: packet.ContinueAuthentication, Properties: p}
		}},
}

// specPlaces is Table 2-4 of MQTT 5.0 (2.2.2.2), copied independently of the
// codec's own table.
var specPlaces = map[packet.PropertyID][]string{
	0x01: {"PUBLISH", "will"},
	0x02: {"PUBLISH", "will"},
	0x03: {"PUBLISH", "will"},
	0x08: {"PUBLISH", "will"},
	0x09: {"PUBLISH", "will"},
	0x0b: {"PUBLISH", "SUBSCRIBE"},
	0x11: {"CONNECT", "CONNACK", "DISCONNECT"},
	0x12: {"CONNACK"},
	0x13: {"CONNACK"},
	0x15: {"CONNECT", "CONNACK", "AUTH"},
	0x16: {"CONNECT", "CONNACK", "AUTH"},
	0x17: {"CONNECT"},
	0x18: {"will"},
	0x19: {"CONNECT"},
	0x1a: {"CONNACK"},
	0x1c: {"CONNACK", "DISCONNECT"},
	0x1f: {"CONNACK", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBACK", "UNSUBACK", "DISCONNECT", "AUTH"},
	0x21: {"CONNECT", "CONNACK"},
	0x22: {"CONNECT", "CONNACK"},
	0x23: {"PUBLISH"},
	0x24: {"CONNACK"},
	0x25: {"CONNACK"},
	0x26: {"CONNECT", "CONNACK", "PUBLISH", "will", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK",
		"UNSUBSCRIBE", "UNSUBACK", "DISCONNECT", "AUTH"},
	0x27: {"CONNECT", "CONNACK"},
	0x28: {"CONNACK"},
	0x29: {"CONNACK"},
	0x2a: {"CONNACK"},
}

// propWire returns a valid encoded value of property id (Table 2-4 types).
func propWire(id packet.PropertyID) []byte {
	switch id {
	case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a: // Byte
		return []byte{1}
	case 0x13, 0x21, 0x22, 0x23: // Two Byte Integer
		return u16(1)
	case 0x02, 0x11, 0x18, 0x27: // Four Byte Integer
		return u32(1)
	case 0x0b: // Variable Byte Integer
		return vbi(1)
	case 0x26: // UTF-8 String Pair
		return cat(str("k"), str("v"))
	}
	return str("x") // UTF-8 Encoded String, Binary Data
}

// propSet returns a property set holding id with the value propWire encodes.
func propSet(id packet.PropertyID) packet.Properties {
	var p packet.Properties
	switch id {
	case 0x0b:
		p.SubscriptionIDs = []uint32{1}
	case 0x26:
		p.User = []packet.UserProperty{{Key: "k", Value: "v"}}
	case 0x09:
		p.CorrelationData = []byte("x")
		p.Set(id)
	case 0x16:
		p.AuthData = []byte("x")
		p.Set(id)
	case 0x03, 0x08, 0x12, 0x15, 0x1a, 0x1c, 0x1f:
		p.SetString(id, "x")
	default:
		p.SetUint(id, 1)
	}
	return p
}

// withAuthMethod adds an Authentication Method to a CONNECT's Authentication
// Data, which may not come alone (3.1.2.11.10).
func withAuthMethod(pl string, id packet.PropertyID, section ...[]byte) []byte {
	if pl == "CONNECT" && id == packet.PropAuthData {
		section = append([][]byte{prop(0x15, str("m"))}, section...)
	}
	return plist(section...)
}

// TestPropertyPlacement decodes and encodes every property in every packet:
// it is accepted exactly where Table 2-4 allows it, and refused elsewhere as
// a Malformed Packet (2.2.2.2) or, when encoding, with ErrEncode.
func TestPropertyPlacement(t *testing.T) {
	if len(specPlaces) != len(allProperties) {
		t.Fatalf("spec table has %d properties, want %d", len(specPlaces), len(allProperties))
	}
	for _, id := range allProperties {
		for _, pl := range propPlaces {
			allowed := slices.Contains(specPlaces[id], pl.name)
			t.Run(fmt.Sprintf("%v/%s", id, pl.name), func(t *testing.T) {
				raw := pl.raw(withAuthMethod(pl.name, id, prop(byte(id), propWire(id))))
				p, err := decodeRaw(raw, packet.Version5)
				switch {
				case allowed && err != nil:
					t.Fatalf("decode: %v", err)
				case allowed:
					if got := propsOf(p, pl.name); !got.Has(id) {
						t.Fatalf("decoded %s without %v", dump(p), id)
					}
				default:
					wantCode(t, err, packet.ErrMalformed, packet.MalformedPacket)
				}

				set := propSet(id)
				if pl.name == "CONNECT" && id == packet.PropAuthData {
					set.SetString(packet.PropAuthMethod, "m")
				}
				b, err := packet.Append(nil, pl.value(set), packet.Version5)
				if allowed {
					if err != nil {
						t.Fatalf("Append: %v", err)
					}
					if !equalBytes(b, raw) {
						t.Fatalf("Append:\n got % x\nwant % x", b, raw)
					}
				} else if !errors.Is(err, packet.ErrEncode) {
					t.Fatalf("Append = %v, want ErrEncode", err)
				}
			})
		}
	}
}

// TestPropertyRepeats checks that a property may appear twice only where the
// specification allows it: User Property anywhere, Subscription Identifier in
// PUBLISH; a repeat of any other is a Protocol Error (3.x.2.x).
func TestPropertyRepeats(t *testing.T) {
	for _, id := range allProperties {
		for _, pl := range propPlaces {
			if !slices.Contains(specPlaces[id], pl.name) {
				continue
			}
			t.Run(fmt.Sprintf("%v/%s", id, pl.name), func(t *testing.T) {
				one := prop(byte(id), propWire(id))
				p, err := decodeRaw(pl.raw(withAuthMethod(pl.name, id, one, one)), packet.Version5)
				if id == packet.PropUser || id == packet.PropSubscriptionID && pl.name == "PUBLISH" {
					if err != nil {
						t.Fatalf("repeat refused: %v", err)
					}
					got := propsOf(p, pl.name)
					if len(got.User)+len(got.SubscriptionIDs) != 2 {
						t.Fatalf("repeat decoded as %+v", got)
					}
					return
				}
				wantCode(t, err, packet.ErrProtocol, packet.ProtocolError)
			})
		}
	}
}

// TestPropertyValueRanges encodes property values the decoder refuses, and
// checks that Append refuses them too.
func TestPropertyValueRanges(t *testing.T) {
	for _, c := range []struct {
		name string
		pl   string
		set  propOpt
	}{
		{"Receive Maximum 0", "CONNECT", pUint(packet.PropReceiveMaximum, 0)},
		{"Maximum Packet Size 0", "CONNACK", pUint(packet.PropMaximumPacketSize, 0)},
		{"Topic Alias 0", "PUBLISH", pUint(packet.PropTopicAlias, 0)},
		{"Subscription Identifier 0", "SUBSCRIBE", pSubID(0)},
		{"Subscription Identifier too big", "PUBLISH", pSubID(packet.MaxSubscriptionID + 1)},
		{"two Subscription Identifiers in SUBSCRIBE", "SUBSCRIBE", pSubID(1, 2)},
		{"Maximum QoS 2", "CONNACK", pUint(packet.PropMaximumQoS, 2)},
		{"Payload Format Indicator 2", "will", pUint(packet.PropPayloadFormat, 2)},
		{"Request Problem Information 2", "CONNECT", pUint(packet.PropRequestProblemInfo, 2)},
		{"Shared Subscription Available 3", "CONNACK", pUint(packet.PropSharedSubAvailable, 3)},
		{"string not UTF-8", "PUBLISH", pStr(packet.PropContentType, "\xff")},
		{"string with U+0000", "CONNACK", pStr(packet.PropReasonString, "a\x00")},
		{"user property with surrogate", "PUBACK", pUser("k", "\xed\xa0\x80")},
		{"user property name too long", "DISCONNECT", pUser(string(make([]byte, 65536)), "v")},
		{"binary too long", "PUBLISH", pCorr(make([]byte, 65536))},
		{"PUBLISH Response Topic with wildcard", "PUBLISH", pStr(packet.PropResponseTopic, "a/+")},
		{"will Response Topic empty", "will", pStr(packet.PropResponseTopic, "")},
		{"CONNECT Authentication Data without Method", "CONNECT", pAuthData([]byte{1})},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, pl := range propPlaces {
				if pl.name != c.pl {
					continue
				}
				if _, err := packet.Append(nil, pl.value(props(c.set)), packet.Version5); !errors.Is(err, packet.ErrEncode) {
					t.Fatalf("Append = %v, want ErrEncode", err)
				}
				return
			}
			t.Fatalf("no place %q", c.pl)
		})
	}
}

// TestPropertiesAccessors covers Has, Set, Clear, Empty and the setters.
func TestPropertiesAccessors(t *testing.T) {
	var p packet.Properties
	if !p.Empty() {
		t.Fatal("zero Properties not empty")
	}
	for _, id := range allProperties {
		if p.Has(id) {
			t.Fatalf("zero Properties has %v", id)
		}
	}
	p.Set(packet.PropUser) // present only when non-empty: no effect
	p.Set(packet.PropSubscriptionID)
	if !p.Empty() || p.Has(packet.PropUser) || p.Has(packet.PropSubscriptionID) {
		t.Fatal("Set(User or Subscription Identifier) made the set non-empty")
	}
	p.SetUint(packet.PropTopicAlias, 3)
	p.SetString(packet.PropContentType, "c")
	p.User = append(p.User, packet.UserProperty{Key: "k"})
	p.SubscriptionIDs = []uint32{4}
	for _, id := range []packet.PropertyID{packet.PropTopicAlias, packet.PropContentType, packet.PropUser, packet.PropSubscriptionID} {
		if !p.Has(id) {
			t.Errorf("Has(%v) = false", id)
		}
		p.Clear(id)
		if p.Has(id) {
			t.Errorf("Has(%v) after Clear = true", id)
		}
	}
	if !p.Empty() || p.User != nil || p.SubscriptionIDs != nil {
		t.Fatalf("after clearing everything: %+v", p)
	}
	if p.Has(200) {
		t.Error("Has(200) = true")
	}
	p.Set(200) // out of range: ignored
	if !p.Empty() {
		t.Error("Set(200) changed the set")
	}
	mustPanic(t, "SetUint(Content Type)", func() { p.SetUint(packet.PropContentType, 1) })
	mustPanic(t, "SetUint(Subscription Identifier)", func() { p.SetUint(packet.PropSubscriptionID, 1) })
	mustPanic(t, "SetString(Topic Alias)", func() { p.SetString(packet.PropTopicAlias, "x") })
	for _, id := range allProperties {
		if s := id.String(); s == "" || s[0] == 'P' && s[:9] == "Property(" {
			t.Errorf("PropertyID(0x%02x).String() = %q", byte(id), s)
		}
	}
	if s := packet.PropertyID(0x2b).String(); s != "Property(0x2b)" {
		t.Errorf("unknown property String = %q", s)
	}
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", name)
		}
	}()
	f()
}

// decodeRaw reads one packet from raw with version v.
func decodeRaw(raw []byte, v byte) (packet.Packet, error) {
	r := packet.NewReader(bytesReader(raw), 0)
	r.Version = v
	return r.ReadPacket()
}

// propsOf returns the property set of p at place pl.
func propsOf(p packet.Packet, pl string) packet.Properties {
	if c, ok := p.(*packet.Connect); ok && pl == "will" {
		return c.Will.Properties
	}
	if pr := propertiesOf(p); pr != nil {
		return *pr
	}
	return packet.Properties{}
}
