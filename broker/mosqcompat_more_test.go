package broker_test

// More of issue 14, one test per item: raw packets through real TCP,
// compared with Debian's Mosquitto where it has the behaviour, else
// checked against the specification.

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/internal/testutil/mqdiff"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// pubs encodes QoS 1/2 PUBLISHes on "t", one per entry of qos, numbered
// from 1, for one write.
func pubs(t *testing.T, v byte, qos ...byte) []byte {
	var b []byte
	for i, q := range qos {
		b = append(b, pk(t, v, &packet.Publish{Topic: "t", QoS: q, PacketID: uint16(i + 1), Payload: []byte("x")})...)
	}
	return b
}

// Item 16: a client that sends more unacknowledged QoS 1 and 2 PUBLISHes
// than the Receive Maximum the server announced gets DISCONNECT 0x93
// [MQTT-3.3.4-7]; QoS 1 messages count until their PUBACK, QoS 2 ones
// until their PUBCOMP. Mosquitto 2.0.11 answers the one too many with
// PUBACK or PUBREC 0x97 (Quota exceeded) and carries on: a documented
// difference.
func TestCompatReceiveMaximumExceeded(t *testing.T) {
	v := packet.Version5
	conf := []string{"max_inflight_messages 2"}
	for _, tc := range []struct {
		name     string
		qos      []byte
		mosquito string // Mosquitto's answer to the third
	}{
		{"qos2-qos2-qos2", []byte{2, 2, 2}, "0< 5003000397"},
		{"qos2-qos2-qos1", []byte{2, 2, 1}, "0< 4003000397"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The PUBRECs are read before the third PUBLISH goes: with a
			// Store they wait for the commit.
			third := pk(t, v, &packet.Publish{Topic: "t", QoS: tc.qos[2], PacketID: 3, Payload: []byte("x")})
			mosq, midge := mqdiff.Differential(t, conf, []testutil.Step{
				connStep(t, 0, v, "a"),
				{Send: pubs(t, v, tc.qos[:2]...), Read: 2},
				{Send: third, Close: true},
			})
			head := "0< 200900000622000a210002\n0< 50020001\n0< 50020002\n" // CONNACK with Receive Maximum 2, two PUBRECs
			if want := head + tc.mosquito + "\n0: open"; mosq.String() != want {
				t.Errorf("Mosquitto changed its answer:\n%s\nwant\n%s", mosq, want)
			}
			if want := head + "0< e00193\n0: closed"; midge.String() != want {
				t.Errorf("midge:\n%s\nwant\n%s", midge, want)
			}
		})
	}
}

// gatedStore is a Memory store whose commits wait while the gate is shut.
type gatedStore struct {
	*store.Memory
	shut atomic.Bool
	open chan struct{}
}

func (g *gatedStore) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	if g.shut.Load() {
		<-g.open
	}
	return g.Memory.Commit(ctx, b, sync)
}

// Item 16 for QoS 1: with a Store, PUBACK waits until the message is
// durable, so a client can have QoS 1 messages unacknowledged; one more
// than the Receive Maximum is refused with DISCONNECT 0x93
// [MQTT-3.3.4-7]. Within it nothing is refused, and the count falls as
// PUBACKs go out. (Mosquitto acknowledges QoS 1 at once, never holding
// one: nothing to compare.)
func TestReceiveMaximumQoS1(t *testing.T) {
	st := &gatedStore{Memory: store.NewMemory(), open: make(chan struct{})}
	cfg := open()
	cfg.Store, cfg.MaxInflightMessages = st, 2
	b := start(t, cfg)
	released := false
	release := func() {
		if !released {
			released = true
			close(st.open)
		}
	}
	t.Cleanup(release)

	// A persistent subscriber: deliveries to it are stored, and a PUBACK
	// to the publisher waits for the commit.
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "s", CleanStart: true, KeepAlive: 60}
	cp.Properties.SetUint(packet.PropSessionExpiry, 60)
	s, _ := connectWith(t, b, cp)
	s.Subscribe(1, "t", 1)

	st.shut.Store(true)
	within := connect(t, b, 5, "within")
	within.SendRaw(pubs(t, 5, 1, 1))
	within.ExpectNothing(100 * time.Millisecond) // the PUBACKs wait for the store

	over := connect(t, b, 5, "over")
	over.SendRaw(pubs(t, 5, 1, 1, 1))
	expectDisconnect(t, over, packet.ReceiveMaximumExceeded)

	release()
	expectAck(t, within, packet.TypePuback, 1)
	expectAck(t, within, packet.TypePuback, 2)
	// Acknowledged: the window is free again.
	within.SendRaw(pubs(t, 5, 1, 1))
	expectAck(t, within, packet.TypePuback, 1)
	expectAck(t, within, packet.TypePuback, 2)
}

// subscribeID is a SUBSCRIBE of one filter with Subscription Identifier
// id (none for 0) and options o.
func subscribeID(t *testing.T, pid uint16, filter string, o packet.Subscription, id uint32) []byte {
	o.Filter = filter
	s := &packet.Subscribe{PacketID: pid, Subscriptions: []packet.Subscription{o}}
	if id > 0 {
		s.Properties.SubscriptionIDs = []uint32{id}
	}
	return pk(t, packet.Version5, s)
}

// Item 15: overlapping subscriptions of one session get one PUBLISH at the
// highest of their QoS carrying their Subscription Identifier once
// [MQTT-3.3.4-2], [MQTT-3.3.4-4], where Mosquitto 2.0.11 sends one copy per
// subscription. Subscriptions with different identifiers still get a copy
// each, with its own [MQTT-3.3.4-5], because libmosquitto refuses a PUBLISH
// with two Subscription Identifiers (docs/mosquitto-compat.md). No Local
// leaves out the subscriptions it applies to before the copies are merged
// [MQTT-3.8.3-3].
func TestCompatOverlappingSubscriptionIDs(t *testing.T) {
	v := packet.Version5
	q1, q2 := packet.Subscription{QoS: 1}, packet.Subscription{QoS: 2}
	publish := []testutil.Step{
		connStep(t, 1, v, "p"),
		{Conn: 1, Send: pk(t, v, &packet.Publish{Topic: "a/b", QoS: 2, PacketID: 1, Payload: []byte("x")}), Read: 1},
		{Conn: 1, Send: testutil.Hex(t, "62 02 0001"), Read: 1},
		{Conn: 0, Quiet: 300 * time.Millisecond},
	}
	head := "0< 200900000622000a210014\n0< 900400010001\n0< 900400020002\n1< 200900000622000a210014\n1< 50020001\n1< 70020001\n"
	for _, tc := range []struct {
		name        string
		idA, idB    uint32
		mosq, midge string
	}{
		// a/# at QoS 1 and a/b at QoS 2, both with identifier 3: Mosquitto
		// sends both; midge one copy at QoS 2 with 3 once.
		{"same-id", 3, 3,
			"0< 340b0003612f620001020b0378\n0< 320b0003612f620002020b0378",
			"0< 340b0003612f620001020b0378"},
		// Only a/b has an identifier.
		{"one-id", 0, 4,
			"0< 340b0003612f620001020b0478\n0< 32090003612f6200020078",
			"0< 340b0003612f620001020b0478"},
		// No identifiers.
		{"no-id", 0, 0,
			"0< 34090003612f6200010078\n0< 32090003612f6200020078",
			"0< 34090003612f6200010078"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script := append([]testutil.Step{
				connStep(t, 0, v, "s"),
				{Send: subscribeID(t, 1, "a/#", q1, tc.idA), Read: 1},
				{Send: subscribeID(t, 2, "a/b", q2, tc.idB), Read: 1},
			}, publish...)
			mosq, midge := mqdiff.Differential(t, nil, script)
			if want := head + tc.mosq; mosq.String() != want {
				t.Errorf("Mosquitto changed its answer:\n%s\nwant\n%s", mosq, want)
			}
			if want := head + tc.midge; midge.String() != want {
				t.Errorf("midge:\n%s\nwant\n%s", midge, want)
			}
		})
	}
}

// Item 15: different identifiers keep a copy each [MQTT-3.3.4-5], each
// carrying its own; and No Local leaves a subscription out of the merge:
// the publisher's own message comes once, at the QoS and with the
// identifier of the subscription without No Local [MQTT-3.8.3-3].
func TestOverlappingSubscriptionIDsSpec(t *testing.T) {
	b := start(t, open())
	s := connect(t, b, 5, "s")
	s.SendRaw(subscribeID(t, 1, "a/#", packet.Subscription{QoS: 1}, 1))
	expectAck5 := func(c *testutil.Client) { testutil.Expect[*packet.Suback](c) }
	expectAck5(s)
	s.SendRaw(subscribeID(t, 2, "a/b", packet.Subscription{QoS: 2}, 2))
	expectAck5(s)
	pub(t, connect(t, b, 5, "p"), 1, "a/b", "x", 2, false)
	ids := map[uint32]byte{}
	for range 2 {
		p := testutil.Expect[*packet.Publish](s)
		if len(p.Properties.SubscriptionIDs) != 1 {
			t.Fatalf("PUBLISH with identifiers %v, want one", p.Properties.SubscriptionIDs)
		}
		ids[p.Properties.SubscriptionIDs[0]] = p.QoS
		if p.QoS > 0 {
			s.Send(&packet.Ack{Kind: map[byte]packet.Type{1: packet.TypePuback, 2: packet.TypePubrec}[p.QoS], PacketID: p.PacketID})
		}
	}
	if ids[1] != 1 || ids[2] != 2 {
		t.Errorf("copies by identifier and QoS: %v, want 1 at QoS 1 and 2 at QoS 2", ids)
	}

	n := connect(t, b, 5, "n")
	n.SendRaw(subscribeID(t, 1, "n/#", packet.Subscription{QoS: 2, NoLocal: true}, 7))
	expectAck5(n)
	n.SendRaw(subscribeID(t, 2, "n/x", packet.Subscription{QoS: 0}, 7))
	expectAck5(n)
	n.Send(&packet.Publish{Topic: "n/x", QoS: 1, PacketID: 9, Payload: []byte("own")})
	var got *packet.Publish
	acked := false
	for got == nil || !acked {
		switch p := n.Next().(type) {
		case *packet.Publish:
			if got != nil {
				t.Fatalf("a second copy: %+v", p)
			}
			got = p
		case *packet.Ack: // the PUBACK, before or after
			acked = true
		}
	}
	if got.QoS != 0 || len(got.Properties.SubscriptionIDs) != 1 || got.Properties.SubscriptionIDs[0] != 7 {
		t.Errorf("own message at QoS %d with identifiers %v, want QoS 0 with 7", got.QoS, got.Properties.SubscriptionIDs)
	}
	n.ExpectNothing(100 * time.Millisecond)
}

// Item 12: a message's packet identifier is given when it is queued, as
// Mosquitto gives it: of three messages queued for an offline session, the
// second expiring before the client returns, the third goes out with
// identifier 3, not 2. (With a Store, the identifier was already the one
// its store sequence gives: MIDGE_TEST_STORE runs this through it.)
func TestCompatPacketIDAssignedWhenQueued(t *testing.T) {
	runCompat(t, []compatCase{{"packet-id-when-queued", []byte{packet.Version5}, nil, func(t *testing.T, v byte) []testutil.Step {
		cp := &packet.Connect{ProtocolVersion: v, ClientID: "s", CleanStart: true, KeepAlive: 60}
		cp.Properties.SetUint(packet.PropSessionExpiry, 300)
		resume := *cp
		resume.CleanStart = false
		expiring := &packet.Publish{Topic: "a/2", QoS: 1, PacketID: 2, Payload: []byte("2")}
		expiring.Properties.SetUint(packet.PropMessageExpiry, 1)
		return []testutil.Step{
			{Conn: 1, Send: pk(t, v, cp), Read: 1},
			{Conn: 1, Send: pk(t, v, &packet.Subscribe{PacketID: 1, Subscriptions: sub1("a/#", 1)}), Read: 1},
			{Conn: 1, Send: pk(t, v, &packet.Disconnect{}), Close: true},
			connStep(t, 2, v, "p"),
			{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/1", QoS: 1, PacketID: 1, Payload: []byte("1")}), Read: 1},
			{Conn: 2, Send: pk(t, v, expiring), Read: 1},
			{Conn: 2, Send: pk(t, v, &packet.Publish{Topic: "a/3", QoS: 1, PacketID: 3, Payload: []byte("3")}), Read: 1},
			{Conn: 2, Quiet: 2100 * time.Millisecond}, // the second message expires
			{Conn: 3, Send: pk(t, v, &resume), Read: 3, Quiet: quiet},
		}
	}}})
}
