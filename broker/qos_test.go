package broker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// [MQTT-3.8.4-8] (v5 [MQTT-3.8.4-8], 3.1.1 [MQTT-3.8.4-6]): a message is
// delivered at the lower of its QoS and the subscription's.
func TestQoSDowngrade(t *testing.T) {
	for _, v := range []byte{3, 4, 5} {
		b := start(t, open())
		s0 := subscriber(t, b, v, "s0", "q", 0)
		s1 := subscriber(t, b, v, "s1", "q", 1)
		s2 := subscriber(t, b, v, "s2", "q", 2)
		p := connect(t, b, v, "p")
		for qos := byte(0); qos <= 2; qos++ {
			pub(t, p, 7, "q", "m", qos, false)
			for sq, s := range []*testutil.Client{s0, s1, s2} {
				got := expectPublish(t, s, "q", "m")
				if want := min(qos, byte(sq)); got.QoS != want {
					t.Errorf("v%d pub QoS %d sub QoS %d: delivered at %d", v, qos, sq, got.QoS)
				}
				if got.QoS == 0 && got.PacketID != 0 || got.QoS > 0 && got.PacketID == 0 {
					t.Errorf("packet id %d at QoS %d", got.PacketID, got.QoS) // [MQTT-2.2.1-2]
				}
				ackAll(t, s, got)
			}
		}
	}
}

// upgrade_outgoing_qos delivers at the subscription's QoS.
func TestUpgradeOutgoingQoS(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, UpgradeOutgoingQoS: true})
	s := subscriber(t, b, 4, "s", "q", 2)
	p := connect(t, b, 4, "p")
	pub(t, p, 0, "q", "m", 0, false)
	if got := expectPublish(t, s, "q", "m"); got.QoS != 2 {
		t.Errorf("delivered at QoS %d, want 2", got.QoS)
	}
}

// Messages to one subscriber keep the order they were published in
// [MQTT-4.6.0-5], [MQTT-4.6.0-6].
func TestOrderKept(t *testing.T) {
	const n = 300
	cfg := open()
	cfg.MaxInflightMessages = n // the publisher does not wait for PUBACKs (which a Store delays)
	b := start(t, cfg)
	s := subscriber(t, b, 5, "s", "o/#", 1)
	p := connect(t, b, 5, "p")
	go func() {
		for i := range n {
			m := &packet.Publish{Topic: "o/t", QoS: byte(i % 2), Payload: []byte(fmt.Sprint(i))}
			if m.QoS > 0 {
				m.PacketID = uint16(i + 1)
			}
			p.Send(m)
		}
	}()
	for i := range n {
		got := expectPublish(t, s, "o/t", fmt.Sprint(i))
		ackAll(t, s, got)
	}
}

// [MQTT-4.4.0-1] (v5 [MQTT-4.4.0-1], 3.1.1 [MQTT-4.4.0-1]): after a
// reconnect without clean start, unacknowledged PUBLISHes are resent with
// DUP set and the same packet identifier, and PUBRELs are resent.
func TestRedeliveryAfterReconnect(t *testing.T) {
	for _, v := range []byte{4, 5} {
		b := start(t, open())
		persistent := &packet.Connect{ProtocolVersion: v, ClientID: "sub", CleanStart: false, Properties: expiryProps(300)}
		if v != 5 {
			persistent.Properties = packet.Properties{}
		}
		s := subscribed(t, b, persistent, "r/#", 2)
		p := connect(t, b, v, "p")
		pub(t, p, 1, "r/1", "one", 1, false)
		pub(t, p, 2, "r/2", "two", 2, false)
		pub(t, p, 3, "r/3", "three", 2, false)
		one := expectPublish(t, s, "r/1", "one")
		two := expectPublish(t, s, "r/2", "two")
		three := expectPublish(t, s, "r/3", "three")
		// Acknowledge only the PUBREC of "three", then drop the connection.
		s.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: three.PacketID})
		expectAck(t, s, packet.TypePubrel, three.PacketID)
		s.Close()
		testutil.WaitFor(t, "the subscriber offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "1" })

		pub(t, p, 4, "r/4", "four", 1, false) // queued while offline
		s, ack := connectWith(t, b, persistent)
		if !ack.SessionPresent {
			t.Fatalf("v%d: session not present", v)
		}
		got := expectPublish(t, s, "r/1", "one")
		if !got.Dup || got.PacketID != one.PacketID || got.QoS != 1 {
			t.Errorf("v%d: resent %+v, want DUP and id %d", v, got, one.PacketID)
		}
		got = expectPublish(t, s, "r/2", "two")
		if !got.Dup || got.PacketID != two.PacketID {
			t.Errorf("v%d: resent %+v, want DUP and id %d", v, got, two.PacketID)
		}
		expectAck(t, s, packet.TypePubrel, three.PacketID) // [MQTT-4.3.3-? ] PUBREL resent, not PUBLISH
		got4 := expectPublish(t, s, "r/4", "four")
		if got4.Dup {
			t.Error("first delivery of a queued message has DUP set")
		}
		s.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: one.PacketID})
		ackAll(t, s, &packet.Publish{QoS: 2, PacketID: two.PacketID})
		s.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: three.PacketID})
		ackAll(t, s, got4)
		expectNoMore(t, s, "v%d: unexpected", v)
		// Everything acknowledged: a further reconnect resends nothing.
		s.Close()
		s, _ = connectWith(t, b, persistent)
		expectNoMore(t, s, "v%d: resent after acknowledgement", v)
	}
}

// unreleasedQoS2 connects cp, sends a QoS 2 PUBLISH with packet
// identifier id, and closes the connection once the PUBREC comes, before
// PUBREL.
func unreleasedQoS2(t *testing.T, b *testutil.Broker, cp *packet.Connect, topicName, payload string, id uint16) {
	t.Helper()
	p, _ := connectWith(t, b, cp)
	p.Send(&packet.Publish{Topic: topicName, QoS: 2, PacketID: id, Payload: []byte(payload)})
	expectAck(t, p, packet.TypePubrec, id)
	p.Close()
}

// resendQoS2 reconnects cp after unreleasedQoS2, its session present,
// retransmits the PUBLISH with its identifier [MQTT-4.4.0-1] and DUP
// [MQTT-3.3.1-1], and completes the flow.
func resendQoS2(t *testing.T, b *testutil.Broker, cp *packet.Connect, topicName, payload string, id uint16) *testutil.Client {
	t.Helper()
	p, ack := connectWith(t, b, cp)
	if !ack.SessionPresent {
		t.Fatal("publisher session lost")
	}
	p.Send(&packet.Publish{Topic: topicName, QoS: 2, PacketID: id, Dup: true, Payload: []byte(payload)})
	expectAck(t, p, packet.TypePubrec, id)
	p.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: id})
	expectAck(t, p, packet.TypePubcomp, id)
	return p
}

// A QoS 2 message is delivered once even when the publisher retransmits its
// PUBLISH after a reconnect (4.3.3; [MQTT-4.3.3-9] v5 method B).
func TestQoS2InboundNoDuplicate(t *testing.T) {
	b := start(t, open())
	s := subscriber(t, b, 5, "s", "x", 2)
	persistent := &packet.Connect{ProtocolVersion: 5, ClientID: "p", Properties: expiryProps(300)}
	unreleasedQoS2(t, b, persistent, "x", "once", 9)
	p := resendQoS2(t, b, persistent, "x", "once", 9)
	got := expectPublish(t, s, "x", "once")
	ackAll(t, s, got)
	if extra := ping(t, s); len(extra) != 0 {
		t.Fatalf("delivered twice: %v", extra)
	}
	// After PUBREL the identifier is free: the same id carries a new message.
	pub(t, p, 9, "x", "again", 2, false)
	expectPublish(t, s, "x", "again")

	// PUBREL for an unknown identifier: a plain PUBCOMP, as Mosquitto
	// sends (0x92 would do too).
	p.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 77})
	if a := expectAck(t, p, packet.TypePubcomp, 77); a.ReasonCode != packet.Success {
		t.Errorf("PUBCOMP %v, want 0x00", a.ReasonCode)
	}
}

// Offline persistent sessions queue QoS 1 and 2 messages, and QoS 0 only with
// queue_qos0_messages (3.1.2.4 / [MQTT-3.1.2-5]).
func TestOfflineQueue(t *testing.T) {
	for _, q0 := range []bool{false, true} {
		b := start(t, broker.Config{AllowAnonymous: true, QueueQoS0Messages: q0})
		persistent := &packet.Connect{ProtocolVersion: 4, ClientID: "off", CleanStart: false}
		disconnect(subscribed(t, b, persistent, "q/#", 2))
		testutil.WaitFor(t, "the subscriber offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "0" })
		p := connect(t, b, 4, "p")
		pub(t, p, 1, "q/0", "zero", 0, false)
		pub(t, p, 2, "q/1", "one", 1, false)
		pub(t, p, 3, "q/2", "two", 2, false)
		s, _ := connectWith(t, b, persistent)
		if q0 {
			expectPublish(t, s, "q/0", "zero")
		}
		ackAll(t, s, expectPublish(t, s, "q/1", "one"))
		ackAll(t, s, expectPublish(t, s, "q/2", "two"))
		expectNoMore(t, s, "queue_qos0_messages %v: extra", q0)
	}
}

// max_queued_messages bounds an offline session's queue; what overflows is
// dropped and counted.
func TestMaxQueuedMessages(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxQueuedMessages: 3})
	persistent := &packet.Connect{ProtocolVersion: 4, ClientID: "off", CleanStart: false}
	s := subscribed(t, b, persistent, "q", 1)
	s.Close()
	p := connect(t, b, 4, "p")
	waitOffline(t, b, "off")
	for i := range 5 {
		pub(t, p, uint16(i+1), "q", fmt.Sprint(i), 1, false)
	}
	s, _ = connectWith(t, b, persistent)
	for i := range 3 {
		ackAll(t, s, expectPublish(t, s, "q", fmt.Sprint(i)))
	}
	expectNoMore(t, s, "got beyond the limit")
	if d := b.SysValues()["$SYS/broker/publish/messages/dropped"]; d != "2" {
		t.Errorf("dropped = %s, want 2", d)
	}
}

// When the queue is full a QoS 1 message replaces a queued QoS 0 one: QoS 0
// is dropped first.
func TestQueueDropsQoS0First(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxQueuedMessages: 2, QueueQoS0Messages: true})
	persistent := &packet.Connect{ProtocolVersion: 4, ClientID: "off", CleanStart: false}
	s := subscribed(t, b, persistent, "q", 1)
	s.Close()
	testutil.WaitFor(t, "the subscriber offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "0" })
	p := connect(t, b, 4, "p")
	pub(t, p, 0, "q", "a0", 0, false)
	pub(t, p, 1, "q", "b1", 1, false)
	pub(t, p, 2, "q", "c1", 1, false) // replaces a0
	pub(t, p, 0, "q", "d0", 0, false) // dropped: queue full of QoS 1
	s, _ = connectWith(t, b, persistent)
	want := []string{"b1", "c1"}
	if testutil.StoreKind() != "" {
		// With a Store the offline queue is on disk only, and a full one
		// drops the newest message, as Mosquitto's does.
		want = []string{"a0", "b1"}
	}
	for _, payload := range want {
		ackAll(t, s, expectPublish(t, s, "q", payload))
	}
	expectNoMore(t, s, "got")
}

// The in-flight window: max_inflight_messages and the client's Receive
// Maximum [MQTT-3.3.4-9] bound unacknowledged deliveries; acks open it.
func TestInflightWindow(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxInflightMessages: 3})
	for _, rm := range []uint16{0, 2} {
		cp := &packet.Connect{ProtocolVersion: 5, ClientID: fmt.Sprint("w", rm), CleanStart: true}
		window := 3
		if rm > 0 {
			cp.Properties.SetUint(packet.PropReceiveMaximum, uint32(rm))
			window = int(rm)
		}
		s, _ := connectWith(t, b, cp)
		filter := fmt.Sprint("w", rm)
		s.Subscribe(1, filter, 1)
		p := connect(t, b, 5, "p"+filter)
		for i := range 6 {
			pub(t, p, uint16(i+1), filter, fmt.Sprint(i), 1, false)
		}
		var got []*packet.Publish
		for i := range window {
			got = append(got, expectPublish(t, s, filter, fmt.Sprint(i)))
		}
		s.ExpectNothing(200 * time.Millisecond)
		for i := window; i < 6; i++ {
			ackAll(t, s, got[0])
			got = append(got[1:], expectPublish(t, s, filter, fmt.Sprint(i)))
		}
	}
}

// A subscriber that stops reading never blocks the publisher or other
// subscribers; its queue is bounded and what overflows is dropped.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, MaxQueuedMessages: 100, WriteTimeout: time.Hour})
	subscriber(t, b, 4, "slow", "big", 0) // never reads
	fast := subscriber(t, b, 4, "fast", "big", 1)
	p := connect(t, b, 4, "p")
	payload := string(make([]byte, 64<<10))
	const n = 200 // 12.8 MB: far beyond the slow subscriber's socket buffers
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range n {
			p2 := testutil.Expect[*packet.Publish](fast)
			ackAll(t, fast, p2)
		}
	}()
	for i := range n {
		pub(t, p, uint16(i+1), "big", payload, 1, false)
	}
	wg.Wait()
	testutil.WaitFor(t, "drops counted", func() bool { return b.SysValues()["$SYS/broker/publish/messages/dropped"] != "0" })
}

// Message Expiry Interval: counted down while queued, sent as what remains
// [MQTT-3.3.2-6], and an expired message is not delivered [MQTT-3.3.2-5].
func TestMessageExpiry(t *testing.T) {
	clock := newClock()
	b := start(t, broker.Config{AllowAnonymous: true, Now: clock.Now})
	persistent, s := hourSubscriber(t, b, "s", "e/#", 1)
	s.Close()
	testutil.WaitFor(t, "the subscriber offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "0" })
	p := connect(t, b, 5, "p")
	for i, sec := range []uint32{10, 3} {
		m := &packet.Publish{Topic: fmt.Sprint("e/", i), QoS: 1, PacketID: uint16(i + 1), Payload: []byte("x")}
		m.Properties.SetUint(packet.PropMessageExpiry, sec)
		p.Send(m)
		expectAck(t, p, packet.TypePuback, uint16(i+1))
	}
	clock.Advance(4 * time.Second)
	s, _ = connectWith(t, b, persistent)
	got := expectPublish(t, s, "e/0", "x")
	if !got.Properties.Has(packet.PropMessageExpiry) || got.Properties.MessageExpiry != 6 {
		t.Errorf("Message Expiry Interval %d, want 6", got.Properties.MessageExpiry)
	}
	ackAll(t, s, got)
	expectNoMore(t, s, "expired message delivered")
}

// newClock returns a settable time source for Config.Now, reading
// 2026-01-01 00:00 UTC.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}
