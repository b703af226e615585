package broker_test

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Retained messages: stored [MQTT-3.3.1-5], replaced, cleared by an empty
// payload [MQTT-3.3.1-6], [MQTT-3.3.1-7], sent on subscribe with RETAIN set
// [MQTT-3.3.1-9] (v5) / [MQTT-3.3.1-8] (3.1.1), and at most the QoS granted.
func TestRetained(t *testing.T) {
	for _, v := range []byte{3, 4, 5} {
		b := start(t, open())
		p := connect(t, b, v, "p")
		pub(t, p, 1, "r/a", "first", 1, true)
		pub(t, p, 2, "r/a", "second", 2, true) // replaces
		pub(t, p, 3, "r/b", "b", 0, true)
		pub(t, p, 4, "r/c", "c", 1, true)
		pub(t, p, 5, "r/c", "", 1, true) // clears

		s := subscriber(t, b, v, "s", "r/#", 1)
		got := map[string]*packet.Publish{}
		for range 2 {
			m := testutilPublish(t, s)
			got[m.Topic] = m
			ackAll(t, s, m)
		}
		if m := got["r/a"]; m == nil || string(m.Payload) != "second" || !m.Retain || m.QoS != 1 {
			t.Errorf("v%d r/a: %+v", v, m)
		}
		if m := got["r/b"]; m == nil || m.QoS != 0 || !m.Retain {
			t.Errorf("v%d r/b: %+v", v, m)
		}
		expectNoMore(t, s, "v%d: cleared message delivered", v)
		// A live message is delivered without RETAIN to existing
		// subscribers [MQTT-3.3.1-12] (3.1.1 [MQTT-3.3.1-9]).
		pub(t, p, 6, "r/a", "live", 0, true)
		if m := expectPublish(t, s, "r/a", "live"); m.Retain {
			t.Errorf("v%d: live delivery of a retained message has RETAIN set", v)
		}
		if n := b.SysValues()["$SYS/broker/retained messages/count"]; n != "2" {
			t.Errorf("retained count %s, want 2", n)
		}
	}
}

func testutilPublish(t *testing.T, c interface{ Next() packet.Packet }) *packet.Publish {
	t.Helper()
	p, ok := c.Next().(*packet.Publish)
	if !ok {
		t.Fatalf("got %+v, want PUBLISH", p)
	}
	return p
}

// Retain Handling 0, 1 and 2 [MQTT-3.3.1-9], [MQTT-3.3.1-10],
// [MQTT-3.3.1-11], and Retain As Published [MQTT-3.3.1-12],
// [MQTT-3.3.1-13].
func TestRetainHandlingAndAsPublished(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "h", "kept", 1, true)
	s := connect(t, b, 5, "s")
	for i, tc := range []struct {
		rh   byte
		want bool
	}{{0, true}, {0, true}, {1, false}, {2, false}} {
		subscribe(t, s, uint16(i+1), []packet.Subscription{{Filter: "h", RetainHandling: tc.rh}}, packet.Properties{}, 0)
		got := ping(t, s)
		if tc.want != (len(got) == 1) {
			t.Errorf("case %d (rh %d, existing subscription): got %v", i, tc.rh, got)
		}
	}
	s2 := connect(t, b, 5, "s2")
	subscribe(t, s2, 1, []packet.Subscription{{Filter: "h", RetainHandling: 1}}, packet.Properties{}, 0)
	expectPublish(t, s2, "h", "kept") // new subscription: sent

	rap := connect(t, b, 5, "rap")
	subscribe(t, rap, 1, []packet.Subscription{{Filter: "live", RetainAsPublished: true}, {Filter: "plain"}}, packet.Properties{}, 0, 0)
	pub(t, p, 2, "live", "x", 1, true)
	if m := expectPublish(t, rap, "live", "x"); !m.Retain {
		t.Error("Retain As Published: RETAIN cleared")
	}
	pub(t, p, 3, "plain", "y", 1, true)
	if m := expectPublish(t, rap, "plain", "y"); m.Retain {
		t.Error("without Retain As Published: RETAIN kept")
	}
}

// retain_available false: MQTT 5 is told in CONNACK and a retained PUBLISH
// gets DISCONNECT 0x9A [MQTT-3.2.2-14]; will retain is refused with 0x9A
// [MQTT-3.2.2-13].
func TestRetainUnavailable(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, RetainUnavailable: true})
	c := connect(t, b, 5, "c")
	c.Send(&packet.Publish{Topic: "t", Retain: true, Payload: []byte("x")})
	expectDisconnect(t, c, packet.RetainNotSupported)
	_, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "w", CleanStart: true,
		Will: &packet.Will{Topic: "w", Payload: []byte("x"), Retain: true}})
	if ack.ReasonCode != packet.RetainNotSupported {
		t.Errorf("will retain: CONNACK %v, want 0x9A", ack.ReasonCode)
	}
}

// Shared subscriptions get no retained messages on subscribe (4.8.2).
func TestSharedGetsNoRetained(t *testing.T) {
	b := start(t, open())
	p := connect(t, b, 5, "p")
	pub(t, p, 1, "sr", "kept", 1, true)
	s := subscriber(t, b, 5, "s", "$share/g/sr", 1)
	expectNoMore(t, s, "shared subscription got retained")
}

// TestRetainExpiryInterval: with retain_expiry_interval
// (Config.RetainExpiryInterval) a retained message whose Message Expiry
// Interval has passed leaves memory though nobody subscribes to it; a
// fresh one and one without expiry stay; without the option the expired
// one stays until it is next matched, as in Mosquitto.
func TestRetainExpiryInterval(t *testing.T) {
	t.Parallel()
	for _, scan := range []bool{true, false} {
		var offset atomic.Int64 // the broker's clock runs ahead by this
		cfg := open()
		cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		if scan {
			cfg.RetainExpiryInterval = 20 * time.Millisecond
		}
		b := start(t, cfg)
		c := connect(t, b, packet.Version5, "pub")
		short := &packet.Publish{Topic: "t/short", Retain: true, Payload: []byte("x")}
		short.Properties.SetUint(packet.PropMessageExpiry, 10)
		c.Send(short)
		c.Send(&packet.Publish{Topic: "t/forever", Retain: true, Payload: []byte("y")})
		testutil.WaitFor(t, "two retained messages", func() bool { return b.Server.Stats().Retained == 2 })
		offset.Store(int64(11 * time.Second))
		long := &packet.Publish{Topic: "t/long", Retain: true, Payload: []byte("z")}
		long.Properties.SetUint(packet.PropMessageExpiry, 10)
		c.Send(long)
		if scan {
			names := func() string {
				var out []string
				b.Server.RetainedMessages("#", func(m *broker.Message) bool { out = append(out, m.Topic); return true })
				slices.Sort(out)
				return strings.Join(out, " ")
			}
			testutil.WaitFor(t, "t/short freed, t/forever and t/long kept", func() bool { return names() == "t/forever t/long" })
		} else {
			// The expired message stays in memory (nothing scans) until
			// it is next matched.
			testutil.WaitFor(t, "three retained messages", func() bool { return b.Server.Stats().Retained == 3 })
		}
	}
}

// A retained message whose routing overlaps a new subscription reaches it
// once: live if its routing saw the subscription, as retained if not, never
// both (for QoS 2 that would be a second copy of one message). The
// publisher is held between storing the message and routing it (an
// observer runs there) while a client subscribes and gets its SUBACK.
func TestRetainedRoutedDuringSubscribe(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		b := start(t, open())
		held, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		remove := b.Observe(func(m *broker.Message) {
			if m.Topic == "race/t" && m.Retain {
				once.Do(func() { close(held); <-release })
			}
		})
		pub, _ := testutil.Connect(t, b.Addr, 4, "pub")
		pub.Send(&packet.Publish{Topic: "race/t", QoS: qos, PacketID: 1, Retain: true, Payload: []byte("x")})
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatal("the retained message never reached the router")
		}
		sub, _ := testutil.Connect(t, b.Addr, 4, "sub")
		sub.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "race/#", QoS: 2}}})
		testutil.Expect[*packet.Suback](sub)
		close(release)
		remove()
		// A marker published after the race ends the count.
		pub.Send(&packet.Publish{Topic: "race/end", QoS: qos, PacketID: 2, Payload: []byte("end")})
		copies := 0
		for done := false; !done; {
			switch p := sub.Next().(type) {
			case *packet.Publish:
				switch p.QoS {
				case 1:
					sub.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
				case 2:
					sub.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
				}
				if p.Topic == "race/end" {
					done = true
				} else {
					copies++
				}
			case *packet.Ack:
				if p.Kind == packet.TypePubrel {
					sub.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
				}
			}
		}
		if copies != 1 {
			t.Errorf("QoS %d: the subscriber got the retained message %d times, want once", qos, copies)
		}
	}
}
