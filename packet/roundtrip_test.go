package packet_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// gen makes random valid packets.
type gen struct{ r *rand.Rand }

var runes = []rune{'a', 'b', 'z', '0', '/', ' ', '$', 'é', '\u4e16', '\U0001f600', '\ufeff', '\u007f'}

func (g gen) n(max int) int { return g.r.IntN(max + 1) }

func (g gen) coin() bool { return g.r.IntN(2) == 0 }

// str returns a valid UTF-8 Encoded String of up to max runes, maybe empty.
func (g gen) str(max int) string {
	rs := make([]rune, g.n(max))
	for i := range rs {
		rs[i] = runes[g.r.IntN(len(runes))]
	}
	return string(rs)
}

// topic returns a valid Topic Name.
func (g gen) topic() string {
	for {
		if s := g.str(12); s != "" {
			return s
		}
	}
}

// filter returns a valid Topic Filter, sometimes a shared one.
func (g gen) filter() string {
	levels := []string{"a", "bb", "+", "é", "", "$SYS"}
	var parts []string
	for range 1 + g.n(4) {
		parts = append(parts, levels[g.r.IntN(len(levels))])
	}
	if g.r.IntN(4) == 0 {
		parts = append(parts, "#")
	}
	f := ""
	for i, p := range parts {
		if i > 0 {
			f += "/"
		}
		f += p
	}
	if f == "" {
		f = "/"
	}
	if g.r.IntN(5) == 0 {
		f = "$share/" + []string{"g", "grp", "é"}[g.r.IntN(3)] + "/" + f
	}
	return f
}

// bin returns up to max random bytes, nil when empty (as decoded).
func (g gen) bin(max int) []byte {
	n := g.n(max)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// props returns a random set of the properties allowed at place pl, with
// values the decoder accepts.
func (g gen) props(pl string) packet.Properties {
	var p packet.Properties
	for _, id := range allProperties {
		if !slices.Contains(specPlaces[id], pl) || g.r.IntN(3) != 0 {
			continue
		}
		switch id {
		case packet.PropUser:
			for range 1 + g.n(3) {
				p.User = append(p.User, packet.UserProperty{Key: g.str(5), Value: g.str(5)})
			}
		case packet.PropSubscriptionID:
			n := 1
			if pl == "PUBLISH" {
				n += g.n(3)
			}
			for range n {
				p.SubscriptionIDs = append(p.SubscriptionIDs, 1+g.r.Uint32N(packet.MaxSubscriptionID))
			}
		case packet.PropCorrelationData:
			p.CorrelationData = g.bin(8)
			p.Set(id)
		case packet.PropAuthData:
			p.AuthData = g.bin(8)
			p.Set(id)
			if pl == "CONNECT" {
				p.SetString(packet.PropAuthMethod, g.str(6)) // 3.1.2.11.10
			}
		case packet.PropResponseTopic:
			p.SetString(id, g.topic())
		case packet.PropContentType, packet.PropAssignedClientID, packet.PropAuthMethod, packet.PropResponseInfo,
			packet.PropServerReference, packet.PropReasonString:
			p.SetString(id, g.str(8))
		case packet.PropPayloadFormat, packet.PropRequestProblemInfo, packet.PropRequestResponseInfo,
			packet.PropMaximumQoS, packet.PropRetainAvailable, packet.PropWildcardSubAvailable,
			packet.PropSubscriptionIDAvailable, packet.PropSharedSubAvailable:
			p.SetUint(id, g.r.Uint32N(2))
		case packet.PropServerKeepAlive, packet.PropTopicAliasMaximum:
			p.SetUint(id, g.r.Uint32N(1<<16))
		case packet.PropReceiveMaximum, packet.PropTopicAlias:
			p.SetUint(id, 1+g.r.Uint32N(1<<16-1))
		case packet.PropMaximumPacketSize:
			p.SetUint(id, 1+g.r.Uint32N(1<<31))
		default:
			p.SetUint(id, g.r.Uint32())
		}
	}
	return p
}

// code returns a reason code valid in packet type ty for version v.
func (g gen) code(ty packet.Type, v byte) packet.ReasonCode {
	for {
		c := packet.ReasonCode(g.r.IntN(256))
		if g.coin() {
			c = 0
		}
		if c.ValidFor(ty, v) {
			return c
		}
	}
}

// packet returns a random valid packet of type ty for version v, with
// random properties if withProps (they are left out below MQTT 5).
func (g gen) packet(ty packet.Type, v byte, withProps bool) packet.Packet {
	pr := func(pl string) packet.Properties {
		if !withProps {
			return packet.Properties{}
		}
		return g.props(pl)
	}
	codeV5 := func(t packet.Type) packet.ReasonCode { return g.code(t, packet.Version5) }
	switch ty {
	case packet.TypeConnect:
		p := &packet.Connect{ProtocolVersion: v, Bridge: g.coin(), CleanStart: g.coin(),
			KeepAlive: uint16(g.r.Uint32()), ClientID: g.str(23), Properties: pr("CONNECT")}
		if g.coin() {
			p.ProtocolName = map[byte]string{3: "MQIsdp", 4: "MQTT", 5: "MQTT"}[v]
		}
		if g.coin() {
			p.Will = &packet.Will{Topic: g.topic(), Payload: g.bin(20), QoS: byte(g.n(2)), Retain: g.coin(), Properties: pr("will")}
		}
		p.HasUsername = g.coin()
		if p.HasUsername {
			p.Username = g.str(8)
		}
		p.HasPassword = g.coin() && (p.HasUsername || v == packet.Version5)
		if p.HasPassword {
			p.Password = g.bin(8)
		}
		return p
	case packet.TypeConnack:
		p := &packet.Connack{ReasonCode: g.code(ty, v), Properties: pr("CONNACK")}
		p.SessionPresent = p.ReasonCode == 0 && g.coin()
		return p
	case packet.TypePublish:
		p := &packet.Publish{QoS: byte(g.n(2)), Retain: g.coin(), Topic: g.topic(), Payload: g.bin(40), Properties: pr("PUBLISH")}
		if p.QoS > 0 {
			p.Dup = g.coin()
			p.PacketID = uint16(1 + g.r.IntN(65535))
		}
		if v == packet.Version5 && p.Properties.Has(packet.PropTopicAlias) && g.coin() {
			p.Topic = ""
		}
		return p
	case packet.TypePuback, packet.TypePubrec, packet.TypePubrel, packet.TypePubcomp:
		return &packet.Ack{Kind: ty, PacketID: uint16(1 + g.r.IntN(65535)), ReasonCode: codeV5(ty), Properties: pr(ty.String())}
	case packet.TypeSubscribe:
		p := &packet.Subscribe{PacketID: uint16(1 + g.r.IntN(65535)), Properties: pr("SUBSCRIBE")}
		for range 1 + g.n(3) {
			s := packet.Subscription{Filter: g.filter(), QoS: byte(g.n(2)), RetainAsPublished: g.coin(), RetainHandling: byte(g.n(2))}
			s.NoLocal = g.coin() && s.Filter[0] != '$'
			p.Subscriptions = append(p.Subscriptions, s)
		}
		return p
	case packet.TypeSuback:
		p := &packet.Suback{PacketID: uint16(1 + g.r.IntN(65535)), Properties: pr("SUBACK")}
		for range 1 + g.n(3) {
			p.ReasonCodes = append(p.ReasonCodes, g.code(ty, v))
		}
		return p
	case packet.TypeUnsubscribe:
		p := &packet.Unsubscribe{PacketID: uint16(1 + g.r.IntN(65535)), Properties: pr("UNSUBSCRIBE")}
		for range 1 + g.n(3) {
			p.Filters = append(p.Filters, g.filter())
		}
		return p
	case packet.TypeUnsuback:
		p := &packet.Unsuback{PacketID: uint16(1 + g.r.IntN(65535)), Properties: pr("UNSUBACK")}
		for range 1 + g.n(3) {
			p.ReasonCodes = append(p.ReasonCodes, codeV5(ty))
		}
		return p
	case packet.TypePingreq:
		return &packet.Pingreq{}
	case packet.TypePingresp:
		return &packet.Pingresp{}
	case packet.TypeDisconnect:
		return &packet.Disconnect{ReasonCode: codeV5(ty), Properties: pr("DISCONNECT")}
	case packet.TypeAuth:
		return &packet.Auth{ReasonCode: codeV5(ty), Properties: pr("AUTH")}
	}
	panic("no such type")
}

// normalize turns p into what the decoder returns for it at version v, as
// the codec documents: the protocol name filled in, empty binary data as nil,
// and the fields version v lacks left out.
func normalize(p packet.Packet, v byte) {
	nilEmpty := func(b *[]byte) {
		if len(*b) == 0 {
			*b = nil
		}
	}
	normProps := func(pr *packet.Properties) {
		if v != packet.Version5 {
			*pr = packet.Properties{}
			return
		}
		nilEmpty(&pr.CorrelationData)
		nilEmpty(&pr.AuthData)
	}
	if pr := propertiesOf(p); pr != nil {
		normProps(pr)
	}
	switch p := p.(type) {
	case *packet.Connect:
		if p.ProtocolName == "" {
			p.ProtocolName = map[byte]string{3: "MQIsdp", 4: "MQTT", 5: "MQTT"}[p.ProtocolVersion]
		}
		nilEmpty(&p.Password)
		if p.Will != nil {
			nilEmpty(&p.Will.Payload)
			normProps(&p.Will.Properties)
		}
	case *packet.Connack:
		if v == packet.Version31 {
			p.SessionPresent = false
		}
	case *packet.Publish:
		nilEmpty(&p.Payload)
	case *packet.Ack:
		if v != packet.Version5 {
			p.ReasonCode = 0
		}
	case *packet.Subscribe:
		if v != packet.Version5 {
			for i := range p.Subscriptions {
				s := &p.Subscriptions[i]
				s.NoLocal, s.RetainAsPublished, s.RetainHandling = false, false, 0
			}
		}
	case *packet.Unsuback:
		if v != packet.Version5 {
			p.ReasonCodes = nil
		}
	case *packet.Disconnect:
		if v != packet.Version5 {
			p.ReasonCode = 0
		}
	}
}

// TestRoundTrip encodes random packets of every type for every version, with
// and without properties, decodes them and compares.
func TestRoundTrip(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for ty := packet.TypeConnect; ty <= packet.TypeAuth; ty++ {
		for _, v := range []byte{packet.Version31, packet.Version311, packet.Version5} {
			if ty == packet.TypeAuth && v != packet.Version5 {
				continue
			}
			for _, withProps := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/v%d/props=%v", ty, v, withProps), func(t *testing.T) {
					var stream []byte
					var want []packet.Packet
					for range 200 {
						p := g.packet(ty, v, withProps)
						b, err := packet.Append(nil, p, v)
						if err != nil {
							t.Fatalf("Append(%s): %v", dump(p), err)
						}
						if n := packet.Size(p, v); n != len(b) {
							t.Fatalf("Size(%s) = %d, encoded %d bytes", dump(p), n, len(b))
						}
						normalize(p, v)
						got := decodeOne(t, b, v)
						if d := diff(got, p); d != "" {
							t.Fatalf("round trip of % x: %s", b, d)
						}
						// The decoded packet encodes to the same bytes.
						if b2 := appendOK(t, got, v); !bytes.Equal(b, b2) {
							t.Fatalf("re-encoded\n% x\nas\n% x", b, b2)
						}
						stream = append(stream, b...)
						want = append(want, p)
					}
					// And all of them through one small-buffered stream.
					r := packet.NewReader(bytes.NewReader(stream), 17)
					r.Version = v
					got, err := readAll(r)
					if len(got) != len(want) || err.Error() != "EOF" {
						t.Fatalf("stream: %d packets, %v", len(got), err)
					}
					for i := range got {
						if d := diff(got[i], want[i]); d != "" {
							t.Fatalf("stream packet %d: %s", i, d)
						}
					}
				})
			}
		}
	}
}

// Ack.Decode decodes what Decode does into a reused Ack, and refuses what
// Decode refuses: other packet types, wrong flags, identifier 0.
func TestAckDecodeInPlace(t *testing.T) {
	var p packet.Ack
	for _, v := range []byte{packet.Version311, packet.Version5} {
		for _, kind := range []packet.Type{packet.TypePuback, packet.TypePubrec, packet.TypePubrel, packet.TypePubcomp} {
			want := &packet.Ack{Kind: kind, PacketID: 42}
			if v == packet.Version5 {
				want.ReasonCode = packet.UnspecifiedError
				if kind == packet.TypePubrel || kind == packet.TypePubcomp {
					want.ReasonCode = packet.PacketIdentifierNotFound
				}
				want.Properties.SetString(packet.PropReasonString, "why")
			}
			wire, err := packet.Append(nil, want, v)
			if err != nil {
				t.Fatal(err)
			}
			h := packet.FixedHeader{Type: kind, Flags: wire[0] & 0x0f, Remaining: len(wire) - 2}
			p.Properties.SetString(packet.PropReasonString, "left over")
			if err := p.Decode(h, wire[2:], v); err != nil {
				t.Fatalf("v%d %v: %v", v, kind, err)
			}
			got, err := packet.Decode(h, wire[2:], v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&p, got) || p.PacketID != 42 || p.ReasonCode != want.ReasonCode || p.Properties.ReasonString != want.Properties.ReasonString {
				t.Errorf("v%d %v: in place %+v, Decode %+v", v, kind, p, got)
			}
		}
	}
	bad := []struct {
		name string
		h    packet.FixedHeader
		body []byte
	}{
		{"not an ack", packet.FixedHeader{Type: packet.TypeSubscribe, Flags: 2, Remaining: 2}, []byte{0, 1}},
		{"PUBREL flags 0", packet.FixedHeader{Type: packet.TypePubrel, Remaining: 2}, []byte{0, 1}},
		{"PUBACK flags 2", packet.FixedHeader{Type: packet.TypePuback, Flags: 2, Remaining: 2}, []byte{0, 1}},
		{"identifier 0", packet.FixedHeader{Type: packet.TypePuback, Remaining: 2}, []byte{0, 0}},
		{"truncated", packet.FixedHeader{Type: packet.TypePuback, Remaining: 1}, []byte{0}},
	}
	for _, tc := range bad {
		if err := p.Decode(tc.h, tc.body, packet.Version311); err == nil {
			t.Errorf("%s: decoded", tc.name)
		}
	}
}
