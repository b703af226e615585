package packet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// TestAppendRefuses lists packets Append must refuse, each with ErrEncode
// and dst unchanged.
func TestAppendRefuses(t *testing.T) {
	conn := func(v byte, f func(*packet.Connect)) *packet.Connect {
		p := &packet.Connect{ProtocolVersion: v, ClientID: "c"}
		f(p)
		return p
	}
	for _, c := range []struct {
		name string
		v    byte
		p    packet.Packet
	}{
		{"version 2", 2, &packet.Pingreq{}},
		{"version 6", 6, &packet.Pingreq{}},
		{"AUTH in 3.1.1", packet.Version311, &packet.Auth{}},
		{"AUTH in 3.1", packet.Version31, &packet.Auth{ReasonCode: packet.ContinueAuthentication}},
		{"CONNECT version differs", packet.Version5, conn(4, func(*packet.Connect) {})},
		{"CONNECT MQTT for 3.1", packet.Version31, conn(3, func(p *packet.Connect) { p.ProtocolName = "MQTT" })},
		{"CONNECT MQIsdp for 3.1.1", packet.Version311, conn(4, func(p *packet.Connect) { p.ProtocolName = "MQIsdp" })},
		{"CONNECT client id not UTF-8", packet.Version311, conn(4, func(p *packet.Connect) { p.ClientID = "\xff" })},
		{"CONNECT client id too long", packet.Version311, conn(4, func(p *packet.Connect) { p.ClientID = string(make([]byte, 65536)) })},
		{"CONNECT user name with U+0000", packet.Version5, conn(5, func(p *packet.Connect) { p.HasUsername, p.Username = true, "a\x00" })},
		{"CONNECT password too long", packet.Version5, conn(5, func(p *packet.Connect) { p.HasPassword, p.Password = true, make([]byte, 65536) })},
		{"CONNECT 3.1.1 password without user name", packet.Version311, conn(4, func(p *packet.Connect) { p.HasPassword = true })},
		{"CONNECT 3.1 password without user name", packet.Version31, conn(3, func(p *packet.Connect) { p.HasPassword = true })},
		{"CONNECT will QoS 3", packet.Version311, conn(4, func(p *packet.Connect) { p.Will = &packet.Will{Topic: "w", QoS: 3} })},
		{"CONNECT will topic with wildcard", packet.Version311, conn(4, func(p *packet.Connect) { p.Will = &packet.Will{Topic: "w/#"} })},
		{"CONNECT will topic empty", packet.Version5, conn(5, func(p *packet.Connect) { p.Will = &packet.Will{} })},
		{"CONNECT will payload too long", packet.Version311, conn(4, func(p *packet.Connect) { p.Will = &packet.Will{Topic: "w", Payload: make([]byte, 65536)} })},
		{"CONNECT Topic Alias", packet.Version5, conn(5, func(p *packet.Connect) { p.Properties.SetUint(packet.PropTopicAlias, 1) })},
		{"CONNECT will Reason String", packet.Version5, conn(5, func(p *packet.Connect) {
			p.Will = &packet.Will{Topic: "w", Properties: props(pStr(packet.PropReasonString, "r"))}
		})},
		{"CONNECT will Subscription Identifier", packet.Version5, conn(5, func(p *packet.Connect) {
			p.Will = &packet.Will{Topic: "w", Properties: props(pSubID(1))}
		})},
		{"CONNACK 3.1.1 code 0x87", packet.Version311, &packet.Connack{ReasonCode: packet.NotAuthorized}},
		{"CONNACK 5 code 0x01", packet.Version5, &packet.Connack{ReasonCode: 0x01}},
		{"CONNACK 3.1.1 session present with error", packet.Version311, &packet.Connack{SessionPresent: true, ReasonCode: 5}},
		{"CONNACK 5 session present with error", packet.Version5, &packet.Connack{SessionPresent: true, ReasonCode: packet.Banned}},
		{"CONNACK Will Delay", packet.Version5, &packet.Connack{Properties: props(pUint(packet.PropWillDelay, 1))}},
		{"PUBLISH QoS 3", packet.Version311, &packet.Publish{QoS: 3, Topic: "t", PacketID: 1}},
		{"PUBLISH QoS 1 packet id 0", packet.Version311, &packet.Publish{QoS: 1, Topic: "t"}},
		{"PUBLISH QoS 2 packet id 0", packet.Version5, &packet.Publish{QoS: 2, Topic: "t"}},
		{"PUBLISH topic with +", packet.Version311, &packet.Publish{Topic: "a/+"}},
		{"PUBLISH topic with #", packet.Version5, &packet.Publish{Topic: "#"}},
		{"PUBLISH topic not UTF-8", packet.Version311, &packet.Publish{Topic: "\xed\xa0\x80"}},
		{"PUBLISH topic too long", packet.Version311, &packet.Publish{Topic: string(make([]byte, 65536))}},
		{"PUBLISH 3.1.1 empty topic", packet.Version311, &packet.Publish{}},
		{"PUBLISH 3.1.1 empty topic with alias", packet.Version311, &packet.Publish{Properties: props(pUint(packet.PropTopicAlias, 1))}},
		{"PUBLISH 5 empty topic without alias", packet.Version5, &packet.Publish{}},
		{"PUBLISH Will Delay", packet.Version5, &packet.Publish{Topic: "t", Properties: props(pUint(packet.PropWillDelay, 1))}},
		{"PUBLISH Session Expiry", packet.Version5, &packet.Publish{Topic: "t", Properties: props(pUint(packet.PropSessionExpiry, 1))}},
		{"Ack kind CONNECT", packet.Version311, &packet.Ack{Kind: packet.TypeConnect, PacketID: 1}},
		{"Ack kind 0", packet.Version5, &packet.Ack{PacketID: 1}},
		{"PUBACK packet id 0", packet.Version311, &packet.Ack{Kind: packet.TypePuback}},
		{"PUBREL 5 code 0x10", packet.Version5, &packet.Ack{Kind: packet.TypePubrel, PacketID: 1, ReasonCode: 0x10}},
		{"PUBACK 5 code 0x92", packet.Version5, &packet.Ack{Kind: packet.TypePuback, PacketID: 1, ReasonCode: 0x92}},
		{"PUBACK 5 Topic Alias", packet.Version5, &packet.Ack{Kind: packet.TypePuback, PacketID: 1, Properties: props(pUint(packet.PropTopicAlias, 1))}},
		{"SUBSCRIBE without filters", packet.Version311, &packet.Subscribe{PacketID: 1}},
		{"SUBSCRIBE packet id 0", packet.Version311, &packet.Subscribe{Subscriptions: []packet.Subscription{{Filter: "a"}}}},
		{"SUBSCRIBE filter a/#/b", packet.Version311, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a/#/b"}}}},
		{"SUBSCRIBE empty filter", packet.Version5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: ""}}}},
		{"SUBSCRIBE QoS 3", packet.Version311, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a", QoS: 3}}}},
		{"SUBSCRIBE Retain Handling 3", packet.Version5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a", RetainHandling: 3}}}},
		{"SUBSCRIBE No Local on shared", packet.Version5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "$share/g/a", NoLocal: true}}}},
		{"SUBSCRIBE two Subscription Identifiers", packet.Version5, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "a"}}, Properties: props(pSubID(1, 2))}},
		{"SUBACK without codes", packet.Version311, &packet.Suback{PacketID: 1}},
		{"SUBACK packet id 0", packet.Version5, &packet.Suback{ReasonCodes: []packet.ReasonCode{0}}},
		{"SUBACK 3.1.1 code 0x87", packet.Version311, &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{packet.NotAuthorized}}},
		{"SUBACK 5 code 0x03", packet.Version5, &packet.Suback{PacketID: 1, ReasonCodes: []packet.ReasonCode{3}}},
		{"UNSUBSCRIBE without filters", packet.Version5, &packet.Unsubscribe{PacketID: 1}},
		{"UNSUBSCRIBE packet id 0", packet.Version311, &packet.Unsubscribe{Filters: []string{"a"}}},
		{"UNSUBSCRIBE filter a+", packet.Version311, &packet.Unsubscribe{PacketID: 1, Filters: []string{"a+"}}},
		{"UNSUBACK packet id 0", packet.Version311, &packet.Unsuback{}},
		{"UNSUBACK 5 without codes", packet.Version5, &packet.Unsuback{PacketID: 1}},
		{"UNSUBACK 5 code 0x01", packet.Version5, &packet.Unsuback{PacketID: 1, ReasonCodes: []packet.ReasonCode{1}}},
		{"DISCONNECT 5 code 0x01", packet.Version5, &packet.Disconnect{ReasonCode: 1}},
		{"DISCONNECT 5 Receive Maximum", packet.Version5, &packet.Disconnect{Properties: props(pUint(packet.PropReceiveMaximum, 1))}},
		{"AUTH code 0x80", packet.Version5, &packet.Auth{ReasonCode: 0x80}},
		{"AUTH Session Expiry", packet.Version5, &packet.Auth{ReasonCode: packet.ContinueAuthentication, Properties: props(pUint(packet.PropSessionExpiry, 1))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("dst")
			out, err := packet.Append(dst, c.p, c.v)
			if !errors.Is(err, packet.ErrEncode) {
				t.Fatalf("Append = % x, %v; want ErrEncode", out, err)
			}
			if !bytes.Equal(out, []byte("dst")) {
				t.Fatalf("Append changed dst to % x", out)
			}
		})
	}
}

// TestAppendKeepsShortForms checks which form Append picks for the packets
// whose tail may be omitted (3.4.2.1, 3.14.2.1, 3.15.2.1).
func TestAppendKeepsShortForms(t *testing.T) {
	for _, c := range []struct {
		name string
		p    packet.Packet
		want []byte
	}{
		{"PUBACK success", &packet.Ack{Kind: packet.TypePuback, PacketID: 9}, []byte{0x40, 0x02, 0x00, 0x09}},
		{"PUBACK code", &packet.Ack{Kind: packet.TypePuback, PacketID: 9, ReasonCode: 0x80}, []byte{0x40, 0x03, 0x00, 0x09, 0x80}},
		{"PUBACK success and property", &packet.Ack{Kind: packet.TypePuback, PacketID: 9, Properties: props(pUser("", ""))},
			[]byte{0x40, 0x09, 0x00, 0x09, 0x00, 0x05, 0x26, 0x00, 0x00, 0x00, 0x00}},
		{"DISCONNECT normal", &packet.Disconnect{}, []byte{0xe0, 0x00}},
		{"DISCONNECT code", &packet.Disconnect{ReasonCode: packet.ServerShuttingDown}, []byte{0xe0, 0x01, 0x8b}},
		{"DISCONNECT normal and property", &packet.Disconnect{Properties: props(pUint(packet.PropSessionExpiry, 1))},
			[]byte{0xe0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01}},
		{"AUTH success", &packet.Auth{}, []byte{0xf0, 0x00}},
		{"AUTH code", &packet.Auth{ReasonCode: packet.ReAuthenticate}, []byte{0xf0, 0x02, 0x19, 0x00}},
	} {
		got := appendOK(t, c.p, packet.Version5)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, got, c.want)
		}
	}
	// Below MQTT 5 the fields that do not exist are left out.
	for _, c := range []struct {
		name string
		v    byte
		p    packet.Packet
		want []byte
	}{
		{"PUBACK 3.1.1 code and property", packet.Version311,
			&packet.Ack{Kind: packet.TypePuback, PacketID: 9, ReasonCode: 0x80, Properties: props(pUser("k", "v"))}, []byte{0x40, 0x02, 0x00, 0x09}},
		{"DISCONNECT 3.1.1 code", packet.Version311, &packet.Disconnect{ReasonCode: 0x8b}, []byte{0xe0, 0x00}},
		{"CONNACK 3.1 session present", packet.Version31, &packet.Connack{SessionPresent: true}, []byte{0x20, 0x02, 0x00, 0x00}},
		{"UNSUBACK 3.1.1 codes", packet.Version311, &packet.Unsuback{PacketID: 1, ReasonCodes: []packet.ReasonCode{0x11}}, []byte{0xb0, 0x02, 0x00, 0x01}},
		{"SUBSCRIBE 3.1.1 options", packet.Version311, &packet.Subscribe{PacketID: 1,
			Subscriptions: []packet.Subscription{{Filter: "a", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}}},
			[]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x01}},
		{"PUBLISH 3.1.1 properties", packet.Version311, &packet.Publish{Topic: "t", Properties: props(pUint(packet.PropMessageExpiry, 5))},
			[]byte{0x30, 0x03, 0x00, 0x01, 't'}},
	} {
		got := appendOK(t, c.p, c.v)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, got, c.want)
		}
	}
}

// TestAppendAllocs checks that encoding any fixture into a buffer with room
// allocates nothing.
func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 8192)
	for _, f := range fixtures {
		n := testing.AllocsPerRun(50, func() {
			if _, err := packet.Append(buf[:0], f.want, f.version); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%s: Append allocates %v times", f.name, n)
		}
	}
}

// TestPublishDecodeAllocs checks that (*Publish).Decode into a reused value
// allocates only the topic and the payload.
func TestPublishDecodeAllocs(t *testing.T) {
	for _, f := range fixtures {
		pub, ok := f.want.(*packet.Publish)
		if !ok || !pub.Properties.Empty() {
			continue
		}
		h, body := splitPacket(t, f.raw)
		var p packet.Publish
		n := testing.AllocsPerRun(100, func() {
			if err := p.Decode(h.Flags, body, f.version); err != nil {
				t.Fatal(err)
			}
		})
		want := 1.0 // topic
		if len(pub.Payload) > 0 {
			want++
		}
		if n > want {
			t.Errorf("%s: Decode allocates %v times, want at most %v", f.name, n, want)
		}
	}
}

// TestPublishDecodeSameTopic checks that decoding PUBLISHes to the topic
// of the previous one into a reused value does not copy the topic again,
// and that a new topic is decoded as itself.
func TestPublishDecodeSameTopic(t *testing.T) {
	a := pkt(0x30, str("same/topic"), []byte("payload"))
	b := pkt(0x30, str("other"), []byte("payload"))
	var p packet.Publish
	ha, ba := splitPacket(t, a)
	n := testing.AllocsPerRun(100, func() {
		if err := p.Decode(ha.Flags, ba, packet.Version311); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("Decode to the same topic allocates %v times, want 1 (the payload)", n)
	}
	hb, bb := splitPacket(t, b)
	if err := p.Decode(hb.Flags, bb, packet.Version311); err != nil || p.Topic != "other" {
		t.Fatalf("after a new topic: %q, %v", p.Topic, err)
	}
}

// TestPublishDecodeResets checks that Decode overwrites every field of a
// reused Publish.
func TestPublishDecodeResets(t *testing.T) {
	full := fixtures[0]
	for _, f := range fixtures {
		if f.name == "PUBLISH 5 every property" {
			full = f
		}
	}
	h, body := splitPacket(t, full.raw)
	var p packet.Publish
	if err := p.Decode(h.Flags, body, packet.Version5); err != nil {
		t.Fatal(err)
	}
	bare := pkt(0x30, str("x"), plist())
	h, body = splitPacket(t, bare)
	if err := p.Decode(h.Flags, body, packet.Version5); err != nil {
		t.Fatal(err)
	}
	if d := diff(&p, &packet.Publish{Topic: "x"}); d != "" {
		t.Fatal(d)
	}
}

// TestFixedHeaderAppend checks the fixed header's encoding against the
// Remaining Length boundaries of the specification's table (1.5.5).
func TestFixedHeaderAppend(t *testing.T) {
	for _, tc := range []struct {
		remaining int
		want      []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{2097151, []byte{0xff, 0xff, 0x7f}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}},
		{packet.MaxRemainingLength, []byte{0xff, 0xff, 0xff, 0x7f}},
	} {
		h := packet.FixedHeader{Type: packet.TypePubrel, Flags: 0x02, Remaining: tc.remaining}
		want := append([]byte{0x62}, tc.want...)
		if got := h.Append([]byte{0xaa})[1:]; !bytes.Equal(got, want) {
			t.Errorf("remaining %d: % x, want % x", tc.remaining, got, want)
		}
		if h.Size()-tc.remaining != len(want) {
			t.Errorf("remaining %d: Size %d, want %d", tc.remaining, h.Size(), len(want)+tc.remaining)
		}
	}
}
