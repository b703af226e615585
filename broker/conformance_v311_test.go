package broker_test

// Server-side statements of MQTT 3.1.1 (and MQTT 3.1 specifics) not covered
// elsewhere; docs/conformance.md maps every statement to its test.

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// A protocol violation closes the connection, with nothing sent
// [MQTT-4.8.0-1].
func TestConformanceV311ViolationsClose(t *testing.T) {
	b := start(t, open())
	cases := []struct {
		name string // statement and what is wrong
		raw  []byte
	}{
		{"2.2.2-2 reserved packet type 0", []byte{0x00, 0}},
		{"2.2.2-2 PINGREQ flags", []byte{0xC1, 0}},
		{"3.14.1-1 DISCONNECT flags", []byte{0xE1, 0}},
		{"3.6.1-1 PUBREL flags 0000", []byte{0x60, 2, 0, 1}},
		{"3.8.1-1 SUBSCRIBE flags 0000", []byte{0x80, 6, 0, 1, 0, 1, 'a', 0}},
		{"3.10.1-1 UNSUBSCRIBE flags 0000", []byte{0xA0, 5, 0, 1, 0, 1, 'a'}},
		{"3.3.1-4 PUBLISH QoS 3", []byte{0x36, 5, 0, 1, 'a', 0, 1}},
		{"3-8.3-4 SUBSCRIBE QoS 3", []byte{0x82, 6, 0, 1, 0, 1, 'a', 3}},
		{"3-8.3-4 SUBSCRIBE reserved bits", []byte{0x82, 6, 0, 1, 0, 1, 'a', 0x04}},
		{"3.8.3-3 SUBSCRIBE without filters", []byte{0x82, 2, 0, 1}},
		{"3.10.3-2 UNSUBSCRIBE without filters", []byte{0xA2, 2, 0, 1}},
		{"3.10.3-1 UNSUBSCRIBE filter not UTF-8", []byte{0xA2, 6, 0, 1, 0, 2, 0xC3, 0x28}},
		{"1.5.3-1 ill-formed UTF-8 topic", []byte{0x30, 4, 0, 2, 0xC3, 0x28}},
		{"1.5.3-1 surrogate in filter", []byte{0x82, 8, 0, 1, 0, 3, 0xED, 0xA0, 0x80, 0}},
		{"1.5.3-2 U+0000 in topic", []byte{0x30, 4, 0, 2, 'a', 0}},
		{"3.3.2-2 wildcard in topic name", []byte{0x30, 3, 0, 1, '+'}},
		{"4.7.3-1 empty topic name", []byte{0x30, 2, 0, 0}},
		{"4.7.3-1 empty topic filter", []byte{0x82, 5, 0, 1, 0, 0, 0}},
		{"4.7.1-2 # not last", []byte{0x82, 8, 0, 1, 0, 3, '#', '/', 'a', 0}},
		{"4.7.1-3 + not a whole level", []byte{0x82, 7, 0, 1, 0, 2, 'a', '+', 0}},
		{"2.3.1-1 packet identifier 0", []byte{0x32, 5, 0, 1, 'a', 0, 0}},
		{"2.3.1-1 SUBSCRIBE packet identifier 0", []byte{0x82, 6, 0, 0, 0, 1, 'a', 0}},
		{"AUTH is not a 3.1.1 packet", []byte{0xF0, 0}},
		{"CONNACK from a client", []byte{0x20, 2, 0, 0}},
		{"3.1.0-2 second CONNECT", []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'x'}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, b, 4, fmt.Sprint("bad", i))
			c.SendRaw(tc.raw)
			if got := c.ExpectClosed(); len(got) != 0 {
				t.Errorf("got %v before the close", got)
			}
		})
	}
}

// A CONNECT that does not conform closes the connection without CONNACK
// [MQTT-3.1.4-1].
func TestConformanceV311BadConnectNoConnack(t *testing.T) {
	b := start(t, open())
	hdr := func(flags byte) []byte { return []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60} }
	str := func(s string) []byte { return append([]byte{0, byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte {
		var body []byte
		for _, p := range parts {
			body = append(body, p...)
		}
		return append([]byte{0x10, byte(len(body))}, body...)
	}
	cases := []struct {
		name string
		raw  []byte
	}{
		{"3.1.2-3 reserved flag", cat(hdr(0x03), str("x"))},
		{"3.1.2-22 password without user name", cat(hdr(0x42), str("x"), str("pw"))},
		{"3.1.2-13 will QoS without will flag", cat(hdr(0x0A), str("x"))},
		{"3.1.2-15 will retain without will flag", cat(hdr(0x22), str("x"))},
		{"3.1.2-14 will QoS 3", cat(hdr(0x1E), str("x"), str("w"), str("m"))},
		{"3.1.3-10 will topic with a wildcard", cat(hdr(0x06), str("x"), str("w/#"), str("m"))},
		{"3.1.3-4 client identifier not UTF-8", cat(hdr(0x02), []byte{0, 2, 0xC3, 0x28})},
		{"3.1.3-11 user name not UTF-8", cat(hdr(0x82), str("x"), []byte{0, 2, 0xC3, 0x28})},
		{"3.1.3-1 payload field missing", cat(hdr(0x06), str("x"), str("w"))},
		{"3.1.3-3 no client identifier", cat(hdr(0x02))},
		{"3.1.3-10 will topic not UTF-8", cat(hdr(0x06), str("x"), []byte{0, 2, 0xC3, 0x28}, str("m"))},
		{"3.1.2-19 user name missing", cat(hdr(0x82), str("x"))},
		{"3.1.2-21 password missing", cat(hdr(0xC2), str("x"), str("u"))},
		{"3.1.2-18 user name without the flag", cat(hdr(0x02), str("x"), str("u"))},
		{"3.1.2-20 password without the flag", cat(hdr(0x82), str("x"), str("u"), str("pw"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc := testutil.DialTCP(t, b.Addr)
			nc.Write(tc.raw)
			nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
			if got, err := io.ReadAll(nc); len(got) != 0 || err != nil {
				t.Errorf("got % x (%v), want a close without CONNACK", got, err)
			}
		})
	}
}

// Retained messages are not part of the session: they outlive it
// [MQTT-3.1.2-7]. A connection without a will publishes none when it breaks
// [MQTT-3.1.2-12].
func TestConformanceV311RetainedOutlivesSession(t *testing.T) {
	b := start(t, open())
	w := subscriber(t, b, 4, "watcher", "#", 0)
	p := connect(t, b, 4, "p")
	pub(t, p, 1, "kept", "r", 1, true)
	expectPublish(t, w, "kept", "r")
	p.Close()
	testutil.WaitFor(t, "the publisher gone", func() bool { return b.SysValues()["$SYS/broker/clients/total"] == "1" })
	expectNoMore(t, w, "a connection without will published")
	s := subscriber(t, b, 4, "s", "kept", 0)
	if m := expectPublish(t, s, "kept", "r"); !m.Retain {
		t.Error("RETAIN not set")
	}
}

// RETAIN 0 neither stores nor removes a retained message [MQTT-3.3.1-12]; a
// retained QoS 0 message replaces the retained one [MQTT-3.3.1-7]; a
// zero-byte retained message is delivered as usual and removes the retained
// one [MQTT-3.3.1-10] without being stored [MQTT-3.3.1-11].
func TestConformanceV311RetainRules(t *testing.T) {
	for _, v := range []byte{4, 5} {
		b := start(t, open())
		w := subscriber(t, b, v, "watcher", "t/#", 0)
		p := connect(t, b, v, "p")
		pub(t, p, 1, "t/a", "first", 1, true)
		pub(t, p, 2, "t/a", "plain", 1, false)
		pub(t, p, 5, "t/b", "b1", 1, true)
		pub(t, p, 0, "t/b", "b0", 0, true)
		pub(t, p, 3, "t/c", "c", 1, true)
		pub(t, p, 4, "t/c", "", 1, true)
		for _, want := range [][2]string{{"t/a", "first"}, {"t/a", "plain"}, {"t/b", "b1"}, {"t/b", "b0"}, {"t/c", "c"}, {"t/c", ""}} {
			expectPublish(t, w, want[0], want[1])
		}
		s := subscriber(t, b, v, "s", "t/#", 1)
		got := map[string]string{}
		for range 2 {
			m := testutil.Expect[*packet.Publish](s)
			got[m.Topic] = string(m.Payload)
			ackAll(t, s, m)
		}
		if got["t/a"] != "first" || got["t/b"] != "b0" {
			t.Errorf("v%d: retained %v, want t/a first and t/b b0", v, got)
		}
		expectNoMore(t, s, "v%d: unexpected", v)
		if n := b.SysValues()["$SYS/broker/retained messages/count"]; n != "2" {
			t.Errorf("v%d: %s retained messages, want 2", v, n)
		}
	}
}

// An unauthorised PUBLISH gets a positive acknowledgement in 3.1.1 (there is
// no way to tell the client) and is not delivered [MQTT-3.3.5-2].
func TestConformanceV311UnauthorizedPublishAcknowledged(t *testing.T) {
	b := startDenying(t, func(topic string, a broker.Access) bool { return a == broker.Write && topic == "ro" })
	s := subscriber(t, b, 4, "s", "#", 2)
	p := connect(t, b, 4, "p")
	for qos := byte(0); qos <= 2; qos++ {
		if rc := pub(t, p, 1, "ro", "x", qos, false); rc != packet.Success {
			t.Errorf("QoS %d: acknowledged with %v", qos, rc)
		}
	}
	expectNoMore(t, s, "denied messages delivered")
}

// The QoS 1 and 2 receiver rules of 3.1.1 [MQTT-4.3.2-2], [MQTT-4.3.3-2]:
// PUBACK with the identifier, after which it names a new message; PUBREC,
// again for a retransmission without a second delivery, PUBCOMP for PUBREL,
// after which the identifier names a new message.
func TestConformanceV311QoSReceiver(t *testing.T) {
	b := start(t, open())
	s := subscriber(t, b, 4, "s", "q", 2)
	p := connect(t, b, 4, "p")
	pub(t, p, 3, "q", "one", 1, false)
	pub(t, p, 3, "q", "two", 1, false)
	ackAll(t, s, expectPublish(t, s, "q", "one"))
	ackAll(t, s, expectPublish(t, s, "q", "two"))

	p.Send(&packet.Publish{Topic: "q", QoS: 2, PacketID: 9, Payload: []byte("once")})
	expectAck(t, p, packet.TypePubrec, 9)
	p.Send(&packet.Publish{Topic: "q", QoS: 2, PacketID: 9, Dup: true, Payload: []byte("once")})
	expectAck(t, p, packet.TypePubrec, 9)
	p.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 9})
	expectAck(t, p, packet.TypePubcomp, 9)
	ackAll(t, s, expectPublish(t, s, "q", "once"))
	if extra := ping(t, s); len(extra) != 0 {
		t.Fatalf("delivered twice: %v", extra)
	}
	pub(t, p, 9, "q", "new", 2, false)
	expectPublish(t, s, "q", "new")
}

// Subscribing again to the same filter replaces the subscription and resends
// the retained messages [MQTT-3.8.4-3]; the QoS delivered is the minimum of
// the message's and the granted one [MQTT-3.8.4-6].
func TestConformanceV311Resubscribe(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 4, "p")
	pub(t, p, 1, "rs", "kept", 2, true)
	s := subscriber(t, b, 4, "s", "rs", 2)
	m := expectPublish(t, s, "rs", "kept")
	ackAll(t, s, m)
	s.Subscribe(2, "rs", 1)
	if m := expectPublish(t, s, "rs", "kept"); !m.Retain || m.QoS != 1 {
		t.Errorf("resent retained message: retain %v QoS %d, want retained at QoS 1", m.Retain, m.QoS)
	} else {
		ackAll(t, s, m)
	}
	pub(t, p, 2, "rs", "live", 2, false)
	if m := expectPublish(t, s, "rs", "live"); m.QoS != 1 {
		t.Errorf("delivered at QoS %d after resubscribing at 1", m.QoS)
	} else {
		ackAll(t, s, m)
	}
	expectNoMore(t, s, "two subscriptions after resubscribing")
	// Several filters, one UNSUBACK [MQTT-3.10.4-6], also for a filter
	// with no subscription [MQTT-3.10.4-5].
	s.Send(&packet.Unsubscribe{PacketID: 3, Filters: []string{"none", "rs"}})
	if ua := testutil.Expect[*packet.Unsuback](s); ua.PacketID != 3 {
		t.Errorf("UNSUBACK %+v", ua)
	}
	pub(t, p, 3, "rs", "gone", 1, false)
	expectNoMore(t, s, "delivered after unsubscribing")
}

// MQTT 3.1 (protocol name MQIsdp, level 3): its CONNACK has no Session
// Present flag, a resumed session included; SUBACK, UNSUBACK and the QoS
// flows are those of 3.1.1.
func TestConformanceMQTT31(t *testing.T) {
	b := start(t, open())
	persistent := &packet.Connect{ProtocolVersion: packet.Version31, ClientID: "old", KeepAlive: 60}
	disconnect(subscribed(t, b, persistent, "v3/#", 2))
	testutil.WaitFor(t, "the client offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "0" })

	nc := testutil.DialTCP(t, b.Addr)
	raw, err := packet.Append(nil, persistent, packet.Version31)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(raw)
	got := make([]byte, 4)
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "\x20\x02\x00\x00" {
		t.Fatalf("CONNACK % x (%v), want 20 02 00 00", got, err)
	}
	nc.Close()

	c, _ := connectWith(t, b, persistent)
	p := connect(t, b, packet.Version31, "p")
	pub(t, p, 1, "v3/x", "m", 2, false)
	ackAll(t, c, expectPublish(t, c, "v3/x", "m"))
	c.Send(&packet.Unsubscribe{PacketID: 5, Filters: []string{"v3/#"}})
	if ua := testutil.Expect[*packet.Unsuback](c); ua.PacketID != 5 {
		t.Errorf("UNSUBACK %+v", ua)
	}
}
