package broker_test

// Server-side statements of MQTT 5.0 not covered elsewhere; docs/conformance.md
// maps every statement to its test.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// noDiagnostics fails the test if p carries a Reason String or User
// Properties.
func noDiagnostics(t *testing.T, what string, p *packet.Properties) {
	t.Helper()
	if p.Has(packet.PropReasonString) || len(p.User) > 0 {
		t.Errorf("%s carries diagnostics: reason %q, user %v", what, p.ReasonString, p.User)
	}
}

// lastDisconnect waits for the server to close c and returns the DISCONNECT
// it sent last.
func lastDisconnect(t *testing.T, c *testutil.Client) *packet.Disconnect {
	t.Helper()
	got := c.ExpectClosed()
	if len(got) == 0 {
		t.Fatal("closed without DISCONNECT")
	}
	d, ok := got[len(got)-1].(*packet.Disconnect)
	if !ok {
		t.Fatalf("last packet %+v, want DISCONNECT", got[len(got)-1])
	}
	return d
}

// [MQTT-3.1.2-28]: Request Response Information 0 gets no Response
// Information (and 1 gets none either: we choose not to send it).
// [MQTT-3.1.2-29]: with Request Problem Information 0 no Reason String or
// User Property goes on anything but PUBLISH, CONNACK and DISCONNECT; midge
// sends none at all. [MQTT-4.12.0-6]: no Authentication Method in CONNACK
// and no AUTH without one in CONNECT.
func TestConformanceV5ProblemAndResponseInformation(t *testing.T) {
	b := startDenying(t, func(topic string, a broker.Access) bool {
		return (a == broker.Subscribe && topic == "denied") || (a == broker.Write && topic == "ro")
	})
	for _, info := range []uint32{0, 1} {
		cp := &packet.Connect{ProtocolVersion: 5, ClientID: fmt.Sprint("info", info), CleanStart: true}
		cp.Properties.SetUint(packet.PropRequestProblemInfo, info)
		cp.Properties.SetUint(packet.PropRequestResponseInfo, info)
		c, ack := connectWith(t, b, cp)
		if ack.Properties.Has(packet.PropResponseInfo) || ack.Properties.Has(packet.PropAuthMethod) {
			t.Errorf("info %d: CONNACK properties %+v", info, ack.Properties)
		}
		noDiagnostics(t, "CONNACK", &ack.Properties)

		c.Send(&packet.Publish{Topic: "ro", QoS: 1, PacketID: 1})
		noDiagnostics(t, "PUBACK 0x87", &expectAck(t, c, packet.TypePuback, 1).Properties)
		c.Send(&packet.Publish{Topic: "nobody", QoS: 2, PacketID: 2})
		noDiagnostics(t, "PUBREC 0x10", &expectAck(t, c, packet.TypePubrec, 2).Properties)
		c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 2})
		noDiagnostics(t, "PUBCOMP", &expectAck(t, c, packet.TypePubcomp, 2).Properties)
		c.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 3})
		noDiagnostics(t, "PUBCOMP 0x92", &expectAck(t, c, packet.TypePubcomp, 3).Properties)
		c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: 4})
		noDiagnostics(t, "PUBREL 0x92", &expectAck(t, c, packet.TypePubrel, 4).Properties)
		c.Send(&packet.Subscribe{PacketID: 5, Subscriptions: []packet.Subscription{{Filter: "denied"}, {Filter: "ok"}}})
		sa := testutil.Expect[*packet.Suback](c)
		noDiagnostics(t, "SUBACK", &sa.Properties)
		c.Send(&packet.Unsubscribe{PacketID: 6, Filters: []string{"never"}})
		noDiagnostics(t, "UNSUBACK", &testutil.Expect[*packet.Unsuback](c).Properties)
		expectNoMore(t, c, "info %d: unexpected (an AUTH?)", info)
		c.SendRaw([]byte{0x82, 7, 0, 0, 0, 0, 1, 'a', 0}) // packet identifier 0
		noDiagnostics(t, "DISCONNECT", &lastDisconnect(t, c).Properties)
	}
}

// [MQTT-3.1.0-2]: a second CONNECT is a Protocol Error even when it could
// not be decoded; the connection is closed without DISCONNECT, as Mosquitto
// does (TestCompatV5MoreErrors).
func TestConformanceV5SecondConnectUndecodable(t *testing.T) {
	b := start(t, open())
	c := connect(t, b, 5, "twice")
	// CONNECT "MQTT" level 6.
	c.SendRaw([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 60, 0, 1, 'x'})
	if got := c.ExpectClosed(); len(got) != 0 {
		t.Errorf("got %v before the close, want nothing", got)
	}
}

// Malformed packets and protocol errors close the connection with
// DISCONNECT and the reason code the specification gives [MQTT-4.13.1-1].
func TestConformanceV5MalformedAndProtocolErrors(t *testing.T) {
	b := start(t, open())
	for i, tc := range v5ErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, b, 5, fmt.Sprint("bad", i))
			c.SendRaw(tc.raw)
			got := c.ExpectClosed()
			if !tc.disconnect() {
				if len(got) != 0 {
					t.Errorf("got %v, want the connection closed without DISCONNECT, as Mosquitto does", got)
				}
				return
			}
			if len(got) == 0 {
				t.Fatalf("closed without DISCONNECT, want DISCONNECT %v", tc.want)
			}
			d, ok := got[len(got)-1].(*packet.Disconnect)
			if !ok {
				t.Fatalf("last packet %v, want DISCONNECT", got[len(got)-1])
			}
			lenient := strings.Contains(tc.name, "reason code 0x03")
			if d.ReasonCode != tc.want && !(lenient && d.ReasonCode == packet.MalformedPacket) {
				t.Errorf("DISCONNECT %v, want %v", d.ReasonCode, tc.want)
			}
		})
	}
}

// v5ErrorCases are malformed packets and protocol errors after CONNACK.
// Mosquitto sends DISCONNECT before the close only for errors in PUBLISH,
// SUBSCRIBE and UNSUBSCRIBE (and for a packet type it cannot read), but
// not for an error in a PUBLISH's properties, and so does midge;
// TestCompatV5Errors compares the bytes with Mosquitto's.
var v5ErrorCases = []v5ErrorCase{
	{"2.1.3-1 reserved packet type 0", []byte{0x00, 0}, packet.ProtocolError, false},
	{"2.1.3-1 PINGREQ flags", []byte{0xC1, 0}, packet.MalformedPacket, false},
	{"3.14.1-1 DISCONNECT flags", []byte{0xE1, 0}, packet.MalformedPacket, false},
	{"3.8.1-1 SUBSCRIBE flags 0000", []byte{0x80, 7, 0, 1, 0, 0, 1, 'a', 0}, packet.MalformedPacket, false},
	{"3.10.1-1 UNSUBSCRIBE flags 0000", []byte{0xA0, 6, 0, 1, 0, 0, 1, 'a'}, packet.MalformedPacket, false},
	{"3.15.1-1 AUTH flags", []byte{0xF1, 0}, packet.MalformedPacket, false},
	{"3.3.1-4 PUBLISH QoS 3", []byte{0x36, 6, 0, 1, 'a', 0, 1, 0}, packet.MalformedPacket, false},
	{"3.3.1-2 DUP on QoS 0", []byte{0x38, 4, 0, 1, 'a', 0}, packet.MalformedPacket, false},
	{"3.8.3-5 reserved subscription option bits", []byte{0x82, 7, 0, 1, 0, 0, 1, 'a', 0xC0}, packet.MalformedPacket, false},
	{"3.8.3-2 SUBSCRIBE without filters", []byte{0x82, 3, 0, 1, 0}, packet.MalformedPacket, false},    // 0x81 as Mosquitto
	{"3.10.3-2 UNSUBSCRIBE without filters", []byte{0xA2, 3, 0, 1, 0}, packet.MalformedPacket, false}, // 0x81 as Mosquitto
	{"1.5.4-1 ill-formed UTF-8 topic", []byte{0x30, 5, 0, 2, 0xC3, 0x28, 0}, packet.MalformedPacket, false},
	{"1.5.4-1 surrogate in topic", []byte{0x30, 6, 0, 3, 0xED, 0xA0, 0x80, 0}, packet.MalformedPacket, false},
	{"1.5.4-2 U+0000 in topic", []byte{0x30, 5, 0, 2, 'a', 0, 0}, packet.MalformedPacket, false},
	{"1.5.5-1 remaining length not minimal", []byte{0xC0, 0x80, 0x00}, packet.MalformedPacket, false},
	{"1.5.7-1 user property not UTF-8", []byte{0x30, 11, 0, 1, 'a', 7, 0x26, 0, 1, 0xFF, 0, 1, 'v'}, packet.MalformedPacket, true},
	{"3.3.2-13 Response Topic not UTF-8", []byte{0x30, 9, 0, 1, 'a', 5, 0x08, 0, 2, 0xC3, 0x28}, packet.MalformedPacket, true},
	{"3.3.2-19 Content Type not UTF-8", []byte{0x30, 9, 0, 1, 'a', 5, 0x03, 0, 2, 0xC3, 0x28}, packet.MalformedPacket, true},
	{"3.8.3-1 SUBSCRIBE filter not UTF-8", []byte{0x82, 9, 0, 1, 0, 0, 3, 0xED, 0xA0, 0x80, 0}, packet.MalformedPacket, false},
	{"3.10.3-1 UNSUBSCRIBE filter not UTF-8", []byte{0xA2, 7, 0, 1, 0, 0, 2, 0xC3, 0x28}, packet.MalformedPacket, false},
	{"4.7.1-2 + not a whole level", []byte{0x82, 8, 0, 1, 0, 0, 2, 'a', '+', 0}, packet.MalformedPacket, false},
	{"4.7.3-1 empty topic filter", []byte{0x82, 6, 0, 1, 0, 0, 0, 0}, packet.MalformedPacket, false},
	{"4.8.2-1 $share without a filter", []byte{0x82, 14, 0, 1, 0, 0, 8, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', 0}, packet.MalformedPacket, false},
	{"4.8.2-2 + in a ShareName", []byte{0x82, 16, 0, 1, 0, 0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', '+', '/', 'x', 0}, packet.MalformedPacket, false},
	{"2.2.1-3 packet identifier 0", []byte{0x32, 6, 0, 1, 'a', 0, 0, 0}, packet.ProtocolError, false},
	{"4.7.3-1 empty topic without alias", []byte{0x30, 3, 0, 0, 0}, packet.ProtocolError, false},
	{"3.3.2-2 wildcard in topic name", []byte{0x30, 4, 0, 1, '#', 0}, packet.ProtocolError, false}, // 0x82 as Mosquitto
	{"3.3.2-14 wildcard in Response Topic", []byte{0x30, 10, 0, 1, 'a', 6, 0x08, 0, 3, 'a', '/', '#'}, packet.ProtocolError, false},
	{"2.2.2 property twice", []byte{0x30, 12, 0, 1, 'a', 8, 0x03, 0, 1, 'x', 0x03, 0, 1, 'y'}, packet.ProtocolError, true},
	// A reason code the packet may not carry: Malformed Packet or
	// Protocol Error are both fair answers.
	{"3.14.2-1 DISCONNECT reason code 0x03", []byte{0xE0, 1, 0x03}, packet.ProtocolError, false},
	{"3.4.2-1 PUBACK reason code 0x03", []byte{0x40, 3, 0, 1, 0x03}, packet.ProtocolError, false},
}

// disconnect reports whether the server sends DISCONNECT before the close.
func (c v5ErrorCase) disconnect() bool {
	if strings.Contains(c.name, "remaining length") {
		return true // the fixed header is wrong: the packet's type is not known
	}
	switch packet.Type(c.raw[0] >> 4) {
	case 0, packet.TypePublish, packet.TypeSubscribe, packet.TypeUnsubscribe:
		return !c.inProperties
	}
	return false
}

// v5ErrorCase is a packet the server must refuse.
type v5ErrorCase struct {
	name         string // statement and what is wrong
	raw          []byte
	want         packet.ReasonCode
	inProperties bool // an error in a PUBLISH's properties: closed without DISCONNECT
}

// A CONNECT that does not match the format of 3.1 is closed without CONNACK,
// as Mosquitto does ([MQTT-3.1.4-1]; [MQTT-4.13.1-1] lets the server close
// without CONNACK); TestCompatV5BadConnect compares the bytes.
func TestConformanceV5BadConnect(t *testing.T) {
	b := start(t, open())
	for _, tc := range v5BadConnects() {
		t.Run(tc.name, func(t *testing.T) {
			c := testutil.Dial(t, b.Addr, 5)
			c.SendRaw(tc.raw)
			if got := c.ExpectClosed(); len(got) != 0 {
				t.Fatalf("got %v, want the close alone", got)
			}
		})
	}
}

// v5BadConnects are malformed MQTT 5 CONNECTs.
func v5BadConnects() []struct {
	name string
	raw  []byte
} {
	hdr := func(flags byte) []byte { return []byte{0, 4, 'M', 'Q', 'T', 'T', 5, flags, 0, 60, 0} }
	str := func(s string) []byte { return append([]byte{0, byte(len(s))}, s...) }
	bad := []byte{0, 2, 0xC3, 0x28}
	cat := func(parts ...[]byte) []byte {
		var body []byte
		for _, p := range parts {
			body = append(body, p...)
		}
		return append([]byte{0x10, byte(len(body))}, body...)
	}
	noProps := []byte{0}
	return []struct {
		name string
		raw  []byte
	}{
		{"3.1.2-11 will QoS without will flag", cat(hdr(0x0A), str("x"))},
		{"3.1.2-13 will retain without will flag", cat(hdr(0x22), str("x"))},
		{"3.1.2-12 will QoS 3", cat(hdr(0x1E), str("x"), noProps, str("w"), str("m"))},
		{"3.1.2-9 will payload missing", cat(hdr(0x06), str("x"), noProps, str("w"))},
		{"3.1.2-17 user name missing", cat(hdr(0x82), str("x"))},
		{"3.1.2-19 password missing", cat(hdr(0xC2), str("x"), str("u"))},
		{"3.1.2-16 user name without the flag", cat(hdr(0x02), str("x"), str("u"))},
		{"3.1.2-18 password without the flag", cat(hdr(0x82), str("x"), str("u"), str("pw"))},
		{"3.1.3-3 no client identifier", cat(hdr(0x02))},
		{"3.1.3-4 client identifier not UTF-8", cat(hdr(0x02), bad)},
		{"3.1.3-11 will topic not UTF-8", cat(hdr(0x06), str("x"), noProps, bad, str("m"))},
		{"3.1.3-12 user name not UTF-8", cat(hdr(0x82), str("x"), bad)},
	}
}

// 3.3.4: "A Topic Alias value of 0 or greater than the Maximum Topic Alias is
// a Protocol Error, the receiver uses DISCONNECT with Reason Code of 0x94".
func TestConformanceV5TopicAliasZero(t *testing.T) {
	b := start(t, open())
	c := connect(t, b, 5, "alias0")
	c.SendRaw([]byte{0x30, 7, 0, 1, 'a', 3, 0x23, 0, 0})
	expectDisconnect(t, c, packet.TopicAliasInvalid)
}

// A will topic that is not a valid topic name is refused [MQTT-3.1.3-11],
// [MQTT-3.1.4-1] (closed without CONNACK); a will QoS above Maximum QoS with 0x9B
// [MQTT-3.2.2-12]; both close the connection [MQTT-4.13.2-1].
func TestConformanceV5WillRefused(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, MaxQoS: 1})
	for _, tc := range []struct {
		will *packet.Will
		want packet.ReasonCode
	}{
		// A wildcard will topic makes the CONNECT malformed: closed
		// without CONNACK, as Mosquitto does.
		{&packet.Will{Topic: "w/+", Payload: []byte("x")}, 0},
		{&packet.Will{Topic: "w/#", Payload: []byte("x")}, 0},
		{&packet.Will{Topic: "w", Payload: []byte("x"), QoS: 2}, packet.QoSNotSupported},
	} {
		// Encoded by hand: the encoder refuses an invalid will topic.
		raw := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02 | 0x04 | tc.will.QoS<<3, 0, 60, 0, 0, 1, 'w', 0}
		raw = append(raw, 0, byte(len(tc.will.Topic)))
		raw = append(raw, tc.will.Topic...)
		raw = append(raw, 0, 1, 'x')
		c := testutil.Dial(t, b.Addr, 5)
		c.SendRaw(append([]byte{0x10, byte(len(raw))}, raw...))
		if tc.want == 0 {
			if got := c.ExpectClosed(); len(got) != 0 {
				t.Errorf("will %q: got %v, want the close alone", tc.will.Topic, got)
			}
			continue
		}
		ack := testutil.Expect[*packet.Connack](c)
		if ack.ReasonCode != tc.want || ack.SessionPresent {
			t.Errorf("will %q QoS %d: CONNACK %v (session present %v), want %v", tc.will.Topic, tc.will.QoS, ack.ReasonCode, ack.SessionPresent, tc.want)
		}
		if got := c.ExpectClosed(); len(got) != 0 {
			t.Errorf("after a refused CONNACK: %v", got) // [MQTT-3.14.0-1]
		}
	}
}

// Maximum QoS: announced when below 2 [MQTT-3.2.2-9]; SUBSCRIBE asking for
// more is still accepted [MQTT-3.2.2-10]; a PUBLISH above it is a Protocol
// Error answered with DISCONNECT 0x9B [MQTT-3.2.2-11].
func TestConformanceV5MaximumQoS(t *testing.T) {
	for _, limit := range []int{broker.QoS0Only, 1} {
		b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, MaxQoS: limit})
		want := byte(max(limit, 0))
		c, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "c", CleanStart: true})
		if !ack.Properties.Has(packet.PropMaximumQoS) || ack.Properties.MaximumQoS != want {
			t.Errorf("max_qos %d: Maximum QoS %d (present %v)", want, ack.Properties.MaximumQoS, ack.Properties.Has(packet.PropMaximumQoS))
		}
		subscribe(t, c, 1, []packet.Subscription{{Filter: "a", QoS: 2}, {Filter: "b", QoS: 1}}, packet.Properties{},
			packet.ReasonCode(want), packet.ReasonCode(min(want, 1)))
		pub(t, c, 1, "z", "ok", want, false)
		c.Send(&packet.Publish{Topic: "z", QoS: want + 1, PacketID: 2})
		expectDisconnect(t, c, packet.QoSNotSupported)
	}
}

// PUBACK and PUBCOMP for an identifier the server does not know are
// ignored; PUBREC gets a plain PUBREL (0x92 would do too, 3.6.2.1), as
// Mosquitto sends. A PUBACK for a QoS 2 message is a protocol error: the
// connection is closed, without DISCONNECT, as Mosquitto does (issue 14
// item 4).
func TestConformanceV5UnknownAndWrongAcks(t *testing.T) {
	b := start(t, open())
	c := connect(t, b, 5, "c")
	c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: 7})
	c.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: 8})
	c.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: 9})
	if a := expectAck(t, c, packet.TypePubrel, 9); a.ReasonCode != packet.Success {
		t.Errorf("PUBREL %v for an unknown PUBREC, want 0x00", a.ReasonCode)
	}
	if extra := ping(t, c); len(extra) != 0 {
		t.Fatalf("unexpected %v", extra)
	}

	c.Subscribe(1, "x2", 2)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "x2", "two", 2, false)
	got := expectPublish(t, c, "x2", "two")
	c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: got.PacketID})
	if extra := c.ExpectClosed(); len(extra) != 0 {
		t.Fatalf("after a PUBACK for a QoS 2 message: %v, want the close alone", extra)
	}
}

// Inbound packet identifiers: after PUBACK the same identifier carries a new
// message [MQTT-4.3.2-5]; after a PUBREC of 0x80 or more too [MQTT-4.3.3-9];
// after PUBCOMP too [MQTT-4.3.3-12].
func TestConformanceV5InboundPacketIDReuse(t *testing.T) {
	b := startDenying(t, func(topic string, a broker.Access) bool { return a == broker.Write && topic == "deny" })
	s := subscriber(t, b, 4, "s", "#", 0)
	p := connect(t, b, 5, "p")
	pub(t, p, 5, "r", "one", 1, false)
	pub(t, p, 5, "r", "two", 1, false)
	p.Send(&packet.Publish{Topic: "deny", QoS: 2, PacketID: 6, Payload: []byte("no")})
	if a := expectAck(t, p, packet.TypePubrec, 6); a.ReasonCode != packet.NotAuthorized {
		t.Fatalf("PUBREC %v, want 0x87", a.ReasonCode)
	}
	if rc := pub(t, p, 6, "r", "three", 2, false); rc.IsError() {
		t.Fatalf("PUBREC %v for a new message with the refused identifier", rc)
	}
	pub(t, p, 6, "r", "four", 2, false)
	for _, want := range []string{"one", "two", "three", "four"} {
		expectPublish(t, s, "r", want)
	}
}

// Several filters in one SUBSCRIBE are handled as a sequence of SUBSCRIBEs
// with one SUBACK [MQTT-3.8.4-5] that has a code per filter [MQTT-3.8.4-6],
// granted QoS or failure [MQTT-3.8.4-7], in order [MQTT-3.9.3-1], from the
// SUBACK codes [MQTT-3.9.3-2]; the refused ones do not subscribe.
func TestConformanceV5SubscribeSomeFail(t *testing.T) {
	b := startDenying(t, func(topic string, a broker.Access) bool {
		return a == broker.Subscribe && (topic == "no/1" || topic == "no/2")
	})
	s := connect(t, b, 5, "s")
	subscribe(t, s, 9, []packet.Subscription{
		{Filter: "yes/1", QoS: 0}, {Filter: "no/1", QoS: 1}, {Filter: "$share/g/yes/2", QoS: 2},
		{Filter: "$share/g/no/2", QoS: 1}, {Filter: "yes/3", QoS: 1},
	}, packet.Properties{}, 0, packet.NotAuthorized, 2, packet.NotAuthorized, 1)
	p := connect(t, b, 5, "p")
	for _, topicName := range []string{"no/1", "yes/1", "no/2", "yes/2", "yes/3"} {
		pub(t, p, 1, topicName, topicName, 1, false)
	}
	for _, want := range []string{"yes/1", "yes/2", "yes/3"} {
		ackAll(t, s, expectPublish(t, s, want, want))
	}
	expectNoMore(t, s, "refused filters deliver")
}

// UNSUBSCRIBE compares filters character by character, $share prefix
// included [MQTT-3.10.4-1], answers each [MQTT-3.11.3-1], [MQTT-3.11.3-2]
// and stops deliveries [MQTT-3.10.4-2].
func TestConformanceV5UnsubscribeShared(t *testing.T) {
	b := start(t, open())
	s := connect(t, b, 5, "s")
	subscribe(t, s, 1, []packet.Subscription{{Filter: "$share/g/us", QoS: 1}, {Filter: "us", QoS: 1}}, packet.Properties{}, 1, 1)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "us", "both", 1, false)
	ackAll(t, s, expectPublish(t, s, "us", "both"))
	ackAll(t, s, expectPublish(t, s, "us", "both"))

	s.Send(&packet.Unsubscribe{PacketID: 2, Filters: []string{"$share/g/us", "$share/other/us", "$share/g/us"}})
	ua := testutil.Expect[*packet.Unsuback](s)
	if want := []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted, packet.NoSubscriptionExisted}; ua.PacketID != 2 || !slices.Equal(ua.ReasonCodes, want) {
		t.Fatalf("UNSUBACK %+v, want codes %v", ua, want)
	}
	pub(t, p, 2, "us", "one", 1, false)
	ackAll(t, s, expectPublish(t, s, "us", "one"))
	if extra := ping(t, s); len(extra) != 0 {
		t.Fatalf("shared subscription still delivers: %v", extra)
	}
	s.Send(&packet.Unsubscribe{PacketID: 3, Filters: []string{"us"}})
	if ua := testutil.Expect[*packet.Unsuback](s); !slices.Equal(ua.ReasonCodes, []packet.ReasonCode{packet.Success}) {
		t.Fatalf("UNSUBACK %+v", ua)
	}
	pub(t, p, 3, "us", "none", 1, false)
	expectNoMore(t, s, "delivered after unsubscribing")
}

// After UNSUBSCRIBE, QoS 1 and 2 deliveries already started are completed
// [MQTT-3.10.4-3]; new messages are not added [MQTT-3.10.4-2] (3.1.1 too).
func TestConformanceUnsubscribeCompletesInflight(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		s := subscriber(t, b, v, "s", "u/#", 2)
		p := connect(t, b, v, "p")
		pub(t, p, 1, "u/1", "started", 2, false)
		got := expectPublish(t, s, "u/1", "started")
		s.Send(&packet.Unsubscribe{PacketID: 2, Filters: []string{"u/#"}})
		testutil.Expect[*packet.Unsuback](s)
		pub(t, p, 2, "u/2", "later", 1, false)
		ackAll(t, s, got)
		expectNoMore(t, s, "v%d: unexpected", v)
	}
}

// A QoS 2 message a shared subscription member started to receive is not
// given to another member when the member's session ends [MQTT-4.8.2-4],
// [MQTT-4.8.2-5]; one the member refused with PUBACK 0x80 is discarded
// [MQTT-4.8.2-6].
func TestConformanceV5SharedDeliveryNotMoved(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	for _, tc := range []struct {
		qos    byte
		refuse bool
	}{{2, false}, {1, true}, {2, true}} {
		filter := fmt.Sprintf("$share/g/q%d%v", tc.qos, tc.refuse)
		topicName := filter[len("$share/g/"):]
		a := connect(t, b, 5, "a")
		a.Subscribe(1, filter, tc.qos)
		pub(t, p, 1, topicName, "once", tc.qos, false)
		got := expectPublish(t, a, topicName, "once")
		if tc.refuse {
			kind := packet.TypePuback
			if tc.qos == 2 {
				kind = packet.TypePubrec
			}
			a.Send(&packet.Ack{Kind: kind, PacketID: got.PacketID, ReasonCode: packet.UnspecifiedError})
			ping(t, a)
		}
		other := connect(t, b, 5, "other")
		other.Subscribe(1, filter, tc.qos)
		a.Close()
		testutil.WaitFor(t, "a's session to end", func() bool { return b.SysValues()["$SYS/broker/clients/total"] == "2" })
		pub(t, p, 2, topicName, "after", tc.qos, false)
		ackAll(t, other, expectPublish(t, other, topicName, "after"))
		expectNoMore(t, other, "QoS %d refused %v: the message went to another member", tc.qos, tc.refuse)
		disconnect(other)
		testutil.WaitFor(t, "other's session to end", func() bool { return b.SysValues()["$SYS/broker/clients/total"] == "1" })
	}
}

// A PUBACK or PUBREC of 0x80 or more acknowledges the message: it is not
// resent on reconnect [MQTT-4.4.0-2].
func TestConformanceV5RefusedAckNotResent(t *testing.T) {
	b := start(t, open())
	persistent, s := hourSubscriber(t, b, "s", "n/#", 2)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "n/1", "a", 1, false)
	pub(t, p, 2, "n/2", "b", 2, false)
	one := expectPublish(t, s, "n/1", "a")
	two := expectPublish(t, s, "n/2", "b")
	s.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: one.PacketID, ReasonCode: packet.ImplementationSpecificError})
	s.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: two.PacketID, ReasonCode: packet.QuotaExceeded})
	if extra := ping(t, s); len(extra) != 0 {
		t.Fatalf("PUBREL after a refusing PUBREC? %v", extra)
	}
	s.Close()
	s, ack := connectWith(t, b, persistent)
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	expectNoMore(t, s, "refused messages resent")
}

// [MQTT-3.3.4-10], [MQTT-4.9.0-3]: with the client's Receive Maximum used up
// the server still answers other packets at once; [MQTT-2.2.1-4]: in-flight
// messages have distinct non-zero identifiers.
func TestConformanceV5ControlPacketsNotHeldByQuota(t *testing.T) {
	b := start(t, open())
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "w", CleanStart: true}
	cp.Properties.SetUint(packet.PropReceiveMaximum, 3)
	s := subscribed(t, b, cp, "win", 1)
	p := connect(t, b, 5, "p")
	for i := range 5 {
		pub(t, p, uint16(i+1), "win", fmt.Sprint(i), 1, false)
	}
	var inflight []*packet.Publish
	ids := map[uint16]bool{}
	for i := range 3 {
		m := expectPublish(t, s, "win", fmt.Sprint(i))
		if m.PacketID == 0 || ids[m.PacketID] {
			t.Errorf("packet identifier %d reused or zero", m.PacketID)
		}
		ids[m.PacketID] = true
		inflight = append(inflight, m)
	}
	s.Send(&packet.Pingreq{})
	testutil.Expect[*packet.Pingresp](s)
	s.Send(&packet.Subscribe{PacketID: 2, Subscriptions: []packet.Subscription{{Filter: "other"}}})
	testutil.Expect[*packet.Suback](s)
	s.Send(&packet.Unsubscribe{PacketID: 3, Filters: []string{"other"}})
	testutil.Expect[*packet.Unsuback](s)
	for i := 3; i < 5; i++ {
		ackAll(t, s, inflight[0])
		inflight = append(inflight[1:], expectPublish(t, s, "win", fmt.Sprint(i)))
	}
}

// Will Delay Interval with DISCONNECT 0x04: the will is kept and waits for
// its delay [MQTT-3.1.2-8], [MQTT-3.1.3-9].
func TestConformanceV5WillDelayAfterDisconnectWithWill(t *testing.T) {
	t.Parallel()
	b := start(t, open())
	w := subscriber(t, b, 5, "watcher", "will/#", 0)
	c, _ := connectWith(t, b, willConnect(5, "d4", 1, 60))
	c.Send(&packet.Disconnect{ReasonCode: packet.DisconnectWithWill})
	c.ExpectClosed()
	start := time.Now()
	expectNoMore(t, w, "will published before its delay")
	expectPublish(t, w, "will/d4", "gone")
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("will published after %v, want about 1 s", el)
	}
}

// A session that ends publishes its will whatever the Will Delay Interval
// [MQTT-3.1.2-8]: Session Expiry Interval 0, or set to 0 by DISCONNECT 0x04.
func TestConformanceV5WillWhenSessionEnds(t *testing.T) {
	b := start(t, open())
	w := subscriber(t, b, 5, "watcher", "will/#", 0)

	c, _ := connectWith(t, b, willConnect(5, "e0", 3600, 0))
	c.Close()
	expectPublish(t, w, "will/e0", "gone")

	c, _ = connectWith(t, b, willConnect(5, "z", 3600, 3600))
	c.Send(&packet.Disconnect{ReasonCode: packet.DisconnectWithWill, Properties: expiryProps(0)})
	c.ExpectClosed()
	expectPublish(t, w, "will/z", "gone")

	// DISCONNECT 0x00 discards the will even when the session ends
	// [MQTT-3.1.2-10], [MQTT-3.14.4-3].
	c, _ = connectWith(t, b, willConnect(5, "normal", 3600, 3600))
	c.Send(&packet.Disconnect{Properties: expiryProps(0)})
	c.ExpectClosed()
	testutil.WaitFor(t, "the session to end", func() bool { return b.SysValues()["$SYS/broker/clients/total"] == "1" })
	expectNoMore(t, w, "will published after DISCONNECT 0x00")
}

// The will keeps its User Properties in order [MQTT-3.1.3-10] and its other
// properties, and is published as a non-retained message when Will Retain is
// 0 [MQTT-3.1.2-14] (retained when 1 [MQTT-3.1.2-15]).
func TestConformanceV5WillProperties(t *testing.T) {
	b := start(t, open())
	w := subscriber(t, b, 5, "watcher", "will/#", 0)
	for _, retain := range []bool{false, true} {
		id := fmt.Sprint("props-", retain)
		cp := willConnect(5, id, 0, 0)
		cp.Will.Retain = retain
		cp.Will.Properties.User = []packet.UserProperty{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}, {Key: "b", Value: "3"}}
		cp.Will.Properties.SetString(packet.PropContentType, "text/plain")
		c, _ := connectWith(t, b, cp)
		c.Close()
		got := expectPublish(t, w, "will/"+id, "gone")
		if !slices.Equal(got.Properties.User, cp.Will.Properties.User) || got.Properties.ContentType != "text/plain" {
			t.Errorf("will properties %+v", got.Properties)
		}
		late := connect(t, b, 5, "late")
		late.Subscribe(1, "will/"+id, 0)
		if extra := ping(t, late); len(extra) != map[bool]int{false: 0, true: 1}[retain] {
			t.Errorf("Will Retain %v: a new subscriber got %v", retain, extra)
		}
	}
}

// Topic Alias mappings do not outlive the network connection
// [MQTT-3.3.2-7], in either direction.
func TestConformanceV5TopicAliasNotCarriedOver(t *testing.T) {
	cfg := open()
	cfg.MaxTopicAliasOut = 10
	b := start(t, cfg)
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "ta", Properties: expiryProps(60)}
	cp.Properties.SetUint(packet.PropTopicAliasMaximum, 5)
	c := subscribed(t, b, cp, "ta/#", 0)
	m := &packet.Publish{Topic: "ta/x", Payload: []byte("1")}
	m.Properties.SetUint(packet.PropTopicAlias, 1)
	c.Send(m)
	got := expectPublish(t, c, "ta/x", "1")
	if !got.Properties.Has(packet.PropTopicAlias) {
		t.Fatal("server set no alias; cannot check its reset")
	}
	c.Close()

	c, ack := connectWith(t, b, cp)
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	p := connect(t, b, 5, "p")
	pub(t, p, 0, "ta/x", "2", 0, false)
	expectPublish(t, c, "ta/x", "2") // the topic again, not only the alias
	m = &packet.Publish{Payload: []byte("3")}
	m.Properties.SetUint(packet.PropTopicAlias, 1)
	c.Send(m)
	expectDisconnect(t, c, packet.ProtocolError) // alias 1 is unknown here (3.3.4)
}

// A retained message's Message Expiry Interval counts down while it is
// stored [MQTT-3.3.2-6]; once passed it is not sent to new subscribers
// [MQTT-3.3.2-5].
func TestConformanceV5RetainedMessageExpiry(t *testing.T) {
	clock := newClock()
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, Now: clock.Now})
	p := connect(t, b, 5, "p")
	for i, sec := range []uint32{10, 3} {
		m := &packet.Publish{Topic: fmt.Sprint("re/", i), QoS: 1, PacketID: uint16(i + 1), Retain: true, Payload: []byte("x")}
		m.Properties.SetUint(packet.PropMessageExpiry, sec)
		p.Send(m)
		expectAck(t, p, packet.TypePuback, uint16(i+1))
	}
	clock.Advance(4 * time.Second)
	s := subscriber(t, b, 5, "s", "re/#", 1)
	got := expectPublish(t, s, "re/0", "x")
	if !got.Retain || !got.Properties.Has(packet.PropMessageExpiry) || got.Properties.MessageExpiry != 6 {
		t.Errorf("retain %v, Message Expiry Interval %d, want retained with 6", got.Retain, got.Properties.MessageExpiry)
	}
	ackAll(t, s, got)
	expectNoMore(t, s, "expired retained message sent")
	if n := b.SysValues()["$SYS/broker/retained messages/count"]; n != "1" {
		t.Errorf("retained count %s, want 1", n)
	}
}

// Keep Alive 0 turns the keep alive mechanism off: no Server Keep Alive and
// no timeout ([MQTT-3.1.2-22] applies to non-zero values only).
func TestConformanceKeepAliveZero(t *testing.T) {
	t.Parallel()
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		c, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: v, ClientID: fmt.Sprint("ka0-", v), CleanStart: true})
		if ack.Properties.Has(packet.PropServerKeepAlive) {
			t.Errorf("v%d: Server Keep Alive %d", v, ack.Properties.ServerKeepAlive)
		}
		c.ExpectNothing(2 * time.Second) // a keep alive of 1 s would have closed it
		ping(t, c)
	}
}

// A refused CONNACK has Session Present 0 [MQTT-3.2.2-6] ([MQTT-3.2.2-4] in
// 3.1.1) and is the last packet [MQTT-3.14.0-1], [MQTT-4.13.2-1]; the
// session and the connection holding the client identifier are untouched.
func TestConformanceRefusedConnackSessionPresent(t *testing.T) {
	b := start(t, broker.Config{Authenticators: []broker.Authenticator{users{"u": "pw"}}, SysInterval: broker.Unlimited})
	for _, v := range []byte{4, 5} {
		id := fmt.Sprint("rs", v)
		good := &packet.Connect{ProtocolVersion: v, ClientID: id, HasUsername: true, Username: "u",
			HasPassword: true, Password: []byte("pw")}
		if v == 5 {
			good.Properties = expiryProps(60)
		}
		c1, _ := connectWith(t, b, good)
		c1.Subscribe(1, id, 1)
		bad := *good
		bad.Password = []byte("wrong")
		c2, ack := connectWith(t, b, &bad)
		want := packet.NotAuthorized // as Mosquitto answers a wrong password
		if v == 4 {
			want = packet.ConnackV3NotAuthorized
		}
		if ack.ReasonCode != want || ack.SessionPresent {
			t.Errorf("v%d: CONNACK %v session present %v, want %v and 0", v, ack.ReasonCode, ack.SessionPresent, want)
		}
		if got := c2.ExpectClosed(); len(got) != 0 {
			t.Errorf("v%d: after the refused CONNACK: %v", v, got)
		}
		expectNoMore(t, c1, "v%d: existing connection got", v)
		c1.Close()
		_, ack = connectWith(t, b, good)
		if !ack.SessionPresent {
			t.Errorf("v%d: session lost after a refused CONNECT", v)
		}
	}
}

// Data sent after a refused CONNECT is not processed [MQTT-3.1.4-6]
// ([MQTT-3.1.4-5] in 3.1.1).
func TestConformanceRefusedConnectIgnoresData(t *testing.T) {
	b := start(t, broker.Config{Authenticators: []broker.Authenticator{users{"u": "pw"}}, SysInterval: broker.Unlimited})
	for _, v := range []byte{4, 5} {
		cp, err := packet.Append(nil, &packet.Connect{ProtocolVersion: v, ClientID: "x", CleanStart: true,
			HasUsername: true, Username: "u", HasPassword: true, Password: []byte("wrong")}, v)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := packet.Append(nil, &packet.Publish{Topic: "stolen", Retain: true, Payload: []byte("x")}, v)
		if err != nil {
			t.Fatal(err)
		}
		c := testutil.Dial(t, b.Addr, v)
		c.SendRaw(append(cp, pb...))
		if ack := testutil.Expect[*packet.Connack](c); ack.ReasonCode == packet.Success {
			t.Fatal("connection accepted")
		}
		c.ExpectClosed()
	}
	if n := b.SysValues()["$SYS/broker/retained messages/count"]; n != "0" {
		t.Errorf("a PUBLISH after a refused CONNECT was processed: %s retained", n)
	}
}

// A zero-length client identifier with Clean Start 0 gets an Assigned Client
// Identifier [MQTT-3.2.2-16], new to the server, and the CONNECT is processed
// as if the client had sent it [MQTT-3.1.3-6], [MQTT-3.1.3-7]: its session
// persists under that identifier.
func TestConformanceV5AssignedClientIDPersistentSession(t *testing.T) {
	b := start(t, open())
	c, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, Properties: expiryProps(60)})
	id := ack.Properties.AssignedClientID
	if id == "" || ack.SessionPresent {
		t.Fatalf("CONNACK %+v", ack)
	}
	_, other := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, Properties: expiryProps(60)})
	if other.Properties.AssignedClientID == id {
		t.Fatal("the same identifier assigned twice")
	}
	c.Subscribe(1, "as", 1)
	c.Close()
	testutil.WaitFor(t, "the client offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "1" })
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "as", "queued", 1, false)
	c, ack = connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: id, Properties: expiryProps(60)})
	if !ack.SessionPresent || ack.Properties.Has(packet.PropAssignedClientID) {
		t.Fatalf("reconnect with the assigned id: %+v", ack)
	}
	expectPublish(t, c, "as", "queued")
}

// Clean Start 1 discards the session: Session Present 0 [MQTT-3.2.2-2], no
// subscriptions and no queued messages [MQTT-3.1.2-4], [MQTT-3.1.4-4]; with
// Clean Start 0 and no session a new one is created [MQTT-3.1.2-6],
// [MQTT-3.2.2-3].
func TestConformanceCleanStartDiscardsSession(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		id := fmt.Sprint("cs", v)
		persistent := &packet.Connect{ProtocolVersion: v, ClientID: id}
		if v == 5 {
			persistent.Properties = expiryProps(60)
		}
		c, ack := connectWith(t, b, persistent)
		if ack.SessionPresent {
			t.Fatalf("v%d: session present for a new client", v)
		}
		c.Subscribe(1, id, 1)
		c.Close()
		p := connect(t, b, v, "p")
		waitOffline(t, b, id)
		pub(t, p, 1, id, "queued", 1, false)
		c, ack = connectWith(t, b, &packet.Connect{ProtocolVersion: v, ClientID: id, CleanStart: true})
		if ack.SessionPresent {
			t.Errorf("v%d: session present with clean start", v)
		}
		pub(t, p, 2, id, "new", 1, false)
		expectNoMore(t, c, "v%d: discarded session delivers", v)
		disconnect(c)
		disconnect(p)
		testutil.WaitFor(t, "everyone offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "0" })
	}
}

// The DUP flag of an incoming PUBLISH is not propagated [MQTT-3.3.1-3]; QoS 0
// deliveries have DUP 0 [MQTT-3.3.1-2], [MQTT-4.3.1-1]; first deliveries of
// QoS 1 and 2 too [MQTT-4.3.2-2], [MQTT-4.3.3-2].
func TestConformanceDupNotPropagated(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		s := subscriber(t, b, v, "s", "dup/#", 2)
		p := connect(t, b, v, "p")
		for qos := byte(1); qos <= 2; qos++ {
			p.Send(&packet.Publish{Topic: "dup/x", QoS: qos, PacketID: 1, Dup: true, Payload: []byte("d")})
			if qos == 1 {
				expectAck(t, p, packet.TypePuback, 1)
			} else {
				expectAck(t, p, packet.TypePubrec, 1)
				p.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 1})
				expectAck(t, p, packet.TypePubcomp, 1)
			}
			if got := expectPublish(t, s, "dup/x", "d"); got.Dup || got.QoS != qos {
				t.Errorf("v%d QoS %d: delivered with DUP %v QoS %d", v, qos, got.Dup, got.QoS)
			} else {
				ackAll(t, s, got)
			}
		}
		pub(t, p, 0, "dup/x", "zero", 0, false)
		if got := expectPublish(t, s, "dup/x", "zero"); got.Dup {
			t.Errorf("v%d: QoS 0 delivered with DUP", v)
		}
	}
}

// With one copy per matching subscription, each copy carries the
// Subscription Identifier of its subscription [MQTT-3.3.4-5].
func TestConformanceV5SubscriptionIDPerCopy(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, AllowDuplicateMessages: true})
	s := connect(t, b, 5, "s")
	var id1, id2 packet.Properties
	id1.SubscriptionIDs = []uint32{1}
	id2.SubscriptionIDs = []uint32{2}
	subscribe(t, s, 1, []packet.Subscription{{Filter: "o/+"}}, id1, 0)
	subscribe(t, s, 2, []packet.Subscription{{Filter: "o/#"}}, id2, 0)
	p := connect(t, b, 5, "p")
	pub(t, p, 0, "o/x", "m", 0, false)
	var ids []uint32
	for range 2 {
		got := expectPublish(t, s, "o/x", "m")
		if len(got.Properties.SubscriptionIDs) != 1 {
			t.Fatalf("copy with ids %v, want one", got.Properties.SubscriptionIDs)
		}
		ids = append(ids, got.Properties.SubscriptionIDs[0])
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []uint32{1, 2}) {
		t.Errorf("ids %v, want 1 and 2", ids)
	}
}

// The DISCONNECT for a taken-over session has code 0x8E [MQTT-3.1.4-3] and
// no Session Expiry Interval [MQTT-3.14.2-2].
func TestConformanceV5TakeoverDisconnect(t *testing.T) {
	b := start(t, open())
	old, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "dup", Properties: expiryProps(60)})
	connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "dup", Properties: expiryProps(60)})
	d := lastDisconnect(t, old)
	if d.ReasonCode != packet.SessionTakenOver || d.Properties.Has(packet.PropSessionExpiry) {
		t.Errorf("DISCONNECT %+v", d)
	}
}

// Client identifiers of 1 to 23 characters from [0-9a-zA-Z] are accepted
// [MQTT-3.1.3-5] (3.1.1 too).
func TestConformanceClientIDCharacters(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		connect(t, b, v, "0123456789abcdefghijXYZ")
		connect(t, b, v, "a")
	}
}

// Topic matching does no normalization [MQTT-4.7.3-4]; a BOM is kept, not
// stripped [MQTT-1.5.4-3].
func TestConformanceNoTopicNormalization(t *testing.T) {
	b := start(t, open())
	for _, v := range []byte{4, 5} {
		s := connect(t, b, v, "s")
		subscribe(t, s, 1, []packet.Subscription{{Filter: "\uFEFFbom/+"}, {Filter: "case/a"}}, packet.Properties{}, 0, 0)
		p := connect(t, b, v, "p")
		for _, topicName := range []string{"bom/x", "case/A", "\uFEFFbom/x", "case/a"} {
			pub(t, p, 0, topicName, topicName, 0, false)
		}
		expectPublish(t, s, "\uFEFFbom/x", "\uFEFFbom/x")
		expectPublish(t, s, "case/a", "case/a")
		expectNoMore(t, s, "v%d: unexpected", v)
	}
}

// Retained messages are not sent for a new shared subscription, whatever its
// Retain Handling (3.3.1.3: they are sent "when a new Non-shared Subscription
// is made"), and Retain As Published still applies to live ones
// [MQTT-3.3.1-13].
func TestConformanceV5SharedRetainHandling(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "sh", "kept", 1, true)
	s := connect(t, b, 5, "s")
	for i, rh := range []byte{packet.RetainSendOnSubscribe, packet.RetainSendIfNewSubscription, packet.RetainDoNotSend} {
		filter := fmt.Sprintf("$share/g%d/sh", i)
		subscribe(t, s, uint16(i+1), []packet.Subscription{{Filter: filter, RetainHandling: rh, RetainAsPublished: true}}, packet.Properties{}, 0)
		expectNoMore(t, s, "Retain Handling %d: shared subscription got", rh)
	}
	pub(t, p, 2, "sh", "live", 1, true)
	for range 3 {
		if m := expectPublish(t, s, "sh", "live"); !m.Retain {
			t.Error("Retain As Published on a shared subscription: RETAIN cleared")
		}
	}
}

// The session is not discarded while its connection is open, whatever its
// Session Expiry Interval [MQTT-4.1.0-1].
func TestConformanceV5SessionKeptWhileConnected(t *testing.T) {
	t.Parallel()
	b := start(t, open())
	c := subscribed(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "kept", Properties: expiryProps(1)}, "k", 0)
	c.ExpectNothing(1500 * time.Millisecond)
	p := connect(t, b, 5, "p")
	pub(t, p, 0, "k", "still", 0, false)
	expectPublish(t, c, "k", "still")
}

// Message expiry is not applied to a QoS 2 PUBLISH already sent: it is
// resent after its expiry [MQTT-4.3.3-7]; as receiver the server completes
// the QoS 2 flow of an expired message [MQTT-4.3.3-13].
func TestConformanceV5NoExpiryOnceSent(t *testing.T) {
	clock := newClock()
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited, Now: clock.Now})
	persistent, s := hourSubscriber(t, b, "s", "x", 2)
	p := connect(t, b, 5, "p")
	m := &packet.Publish{Topic: "x", QoS: 2, PacketID: 1, Payload: []byte("short")}
	m.Properties.SetUint(packet.PropMessageExpiry, 2)
	p.Send(m)
	expectAck(t, p, packet.TypePubrec, 1)
	got := expectPublish(t, s, "x", "short")
	clock.Advance(10 * time.Second)
	p.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 1})
	expectAck(t, p, packet.TypePubcomp, 1)
	s.Close()
	s, _ = connectWith(t, b, persistent)
	again := expectPublish(t, s, "x", "short")
	if !again.Dup || again.PacketID != got.PacketID {
		t.Errorf("resent %+v, want DUP and id %d", again, got.PacketID)
	}
	ackAll(t, s, again)
}

// A QoS 2 message to a shared subscription member whose connection breaks is
// completed with that member when it reconnects [MQTT-4.8.2-4].
func TestConformanceV5SharedQoS2CompletedOnReconnect(t *testing.T) {
	b := start(t, open())
	persistent, m := hourSubscriber(t, b, "m", "$share/g/s2", 2)
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "s2", "two", 2, false)
	got := expectPublish(t, m, "s2", "two")
	m.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: got.PacketID})
	expectAck(t, m, packet.TypePubrel, got.PacketID)
	m.Close()
	m, _ = connectWith(t, b, persistent)
	expectAck(t, m, packet.TypePubrel, got.PacketID)
	m.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: got.PacketID})
	expectNoMore(t, m, "unexpected")
}
