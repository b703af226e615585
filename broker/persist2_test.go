package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// A persistent session that stays offline across several restarts keeps
// everything queued for it in each.
func TestPersistOfflineAcrossRestarts(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		persistent := &packet.Connect{ProtocolVersion: 4, ClientID: "off", CleanStart: false}
		s := subscribed(t, b, persistent, "o/#", 1)
		s.Close()
		n := 0
		for range 3 {
			b = restart()
			p := connect(t, b, 4, "p")
			for range 5 {
				n++
				pub(t, p, uint16(n), "o/x", fmt.Sprint(n), 1, false)
			}
		}
		b = restart()
		s, ack := connectWith(t, b, persistent)
		if !ack.SessionPresent {
			t.Fatal("session lost")
		}
		for i := 1; i <= n; i++ {
			ackAll(t, s, expectPublish(t, s, "o/x", fmt.Sprint(i)))
		}
	})
}

// Expiry keeps working across a restart: a session expires on time counted
// from when it went offline, and messages expire while stored.
func TestPersistExpiry(t *testing.T) {
	clock := newClock()
	storeKinds(t, func(t *testing.T, kind string, open func() broker.Store) {
		start := func(s broker.Store) *testutil.Broker {
			cfg := open_()
			cfg.Store = s
			cfg.Now = clock.Now
			return testutil.StartBroker(t, cfg)
		}
		s1 := open()
		b := start(s1)
		short := &packet.Connect{ProtocolVersion: 5, ClientID: "short", Properties: expiryProps(1)}
		long := hourSession("long")
		for _, cp := range []*packet.Connect{short, long} {
			disconnect(subscribed(t, b, cp, "e/#", 1))
		}
		p := connect(t, b, 5, "p")
		m := &packet.Publish{Topic: "e/gone", QoS: 1, PacketID: 1, Payload: []byte("x")}
		m.Properties.SetUint(packet.PropMessageExpiry, 10)
		p.Send(m)
		expectAck(t, p, packet.TypePuback, 1)
		pub(t, p, 2, "e/kept", "y", 1, false)
		b.Stop(t)
		if kind != "memory" {
			s1.Close()
		}
		clock.Advance(30 * time.Second) // both the message and "short" are past due
		s2 := open()
		t.Cleanup(func() { s2.Close() }) // after the broker's own cleanup
		b = start(s2)
		testutil.WaitFor(t, "the short session to expire", func() bool { return b.SysValues()["$SYS/broker/clients/total"] == "1" })
		c, ack := connectWith(t, b, long)
		if !ack.SessionPresent {
			t.Fatal("the long session expired")
		}
		ackAll(t, c, expectPublish(t, c, "e/kept", "y"))
		expectNoMore(t, c, "expired message delivered after the restart")
	})
}

// A message sent before its session went offline is resent when it
// resumes, even if it has expired since: onward delivery had started
// [MQTT-3.3.2-5]. One that was only queued expires.
func TestPersistNoExpiryOnceSent(t *testing.T) {
	storeKinds(t, func(t *testing.T, _ string, open func() broker.Store) {
		clock := newClock()
		st := open()
		t.Cleanup(func() { st.Close() })
		cfg := open_()
		cfg.Store, cfg.Now, cfg.MaxInflightMessages = st, clock.Now, 1
		b := testutil.StartBroker(t, cfg)
		persistent, s := hourSubscriber(t, b, "s", "x", 1)
		p := connect(t, b, 5, "p")
		for i, payload := range []string{"sent", "queued"} {
			m := &packet.Publish{Topic: "x", QoS: 1, PacketID: uint16(i + 1), Payload: []byte(payload)}
			m.Properties.SetUint(packet.PropMessageExpiry, 5)
			p.Send(m)
			expectAck(t, p, packet.TypePuback, uint16(i+1))
		}
		first := expectPublish(t, s, "x", "sent") // the window of 1 holds "queued" back
		s.Close()
		testutil.WaitFor(t, "the subscriber offline", func() bool { return b.SysValues()["$SYS/broker/clients/connected"] == "1" })
		clock.Advance(time.Minute)
		s, _ = connectWith(t, b, persistent)
		again := expectPublish(t, s, "x", "sent")
		if !again.Dup || again.PacketID != first.PacketID {
			t.Errorf("resent %+v, want DUP and id %d", again, first.PacketID)
		}
		ackAll(t, s, again)
		expectNoMore(t, s, "the expired queued message was delivered")
	})
}
