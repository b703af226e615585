package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// persistentConnect is the CONNECT of a client whose session outlives its
// connection: MQTT 5 with a Session Expiry Interval of 300 s, or MQTT
// 3.1.1 with Clean Session 0.
func persistentConnect(v byte, id string) *packet.Connect {
	cp := &packet.Connect{ProtocolVersion: v, ClientID: id, KeepAlive: 60}
	if v == packet.Version5 {
		cp.Properties.SetUint(packet.PropSessionExpiry, 300)
	}
	return cp
}

// connectOn connects cp to p and returns the client and its CONNACK,
// which must accept it.
func connectOn(t *testing.T, p *proc, cp *packet.Connect) (*testutil.Client, *packet.Connack) {
	t.Helper()
	c := testutil.Dial(t, p.mqtt, cp.ProtocolVersion)
	c.Wait = clusterWait
	cp2 := *cp
	ack := c.Connect(&cp2)
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v on %s", ack.ReasonCode, p.id)
	}
	return c, ack
}

// TestSessionFollowsClient checks, with three midge processes persisting
// their state, that a persistent session moves with its client to another
// node: the client subscribes on n1 and leaves, 20 messages published on
// n3 queue for it, and when it connects to n2 the CONNACK says session
// present and the 20 messages come in order; a message published on n1
// afterwards reaches it on n2 (its route moved), and moving back to n1
// brings the session back with nothing sent twice.
func TestSessionFollowsClient(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "sm")
	for _, v := range []byte{packet.Version5, packet.Version311} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			id := fmt.Sprintf("x%d", v)
			filter := fmt.Sprintf("m%d/#", v)
			topic := fmt.Sprintf("m%d/t", v)
			cp := persistentConnect(v, id)
			x, _ := connectOn(t, ps[0], cp)
			x.Subscribe(1, filter, 1)
			// A witness on n1 tells when the forwarded messages arrived there.
			w, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "w"+id)
			w.Subscribe(1, filter, 1)
			x.Send(&packet.Disconnect{})
			x.ExpectClosed()
			waitFor(t, "the route of "+filter+" on n3", func() bool {
				s, ok := ps[2].status()
				return ok && s.Routes[ps[0].id] >= 1
			})

			pub, _ := testutil.Connect(t, ps[2].mqtt, packet.Version5, "p"+id)
			publishAcked(t, pub, topic, "q", 20, nil, nil)
			for i := range 20 {
				expectPublish(t, w, topic, fmt.Sprint("q", i))
			}
			w.Close()

			x, ack := connectOn(t, ps[1], cp)
			if !ack.SessionPresent {
				t.Fatal("CONNACK on n2: session present 0, want 1")
			}
			for i := range 20 {
				expectPublish(t, x, topic, fmt.Sprint("q", i))
			}

			// The route moved with the session: published on n1, it reaches n2.
			waitFor(t, "the route of "+filter+" moved to n2", func() bool {
				s, ok := ps[0].status()
				return ok && s.Routes[ps[1].id] >= 1
			})
			pub1, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "p1"+id)
			publishAcked(t, pub1, topic, "after", 1, nil, nil)
			expectPublish(t, x, topic, "after0")
			x.Send(&packet.Disconnect{})
			x.ExpectClosed()

			// Back to n1: the session comes back from n2, with nothing
			// delivered twice; n1 had no copy of its own left.
			x, ack = connectOn(t, ps[0], cp)
			if !ack.SessionPresent {
				t.Fatal("CONNACK back on n1: session present 0, want 1")
			}
			x.ExpectNothing(time.Second)
			waitFor(t, "the route of "+filter+" back on n1", func() bool {
				s, ok := ps[2].status()
				return ok && s.Routes[ps[0].id] >= 1
			})
			publishAcked(t, pub, topic, "last", 1, nil, nil)
			expectPublish(t, x, topic, "last0")
			x.ExpectNothing(100 * time.Millisecond)
			x.Close()
		})
	}
}

// TestTakeoverMovesInflight checks that a client connected on n1 with
// messages in flight to it (QoS 1 and 2, unacknowledged) and queued, taken
// over by its connection to n2, gets every message the publisher had
// acknowledged, each QoS 2 message once: the in-flight ones again with the
// same packet identifiers, a QoS 2 one whose PUBREC was sent with PUBREL
// only.
func TestTakeoverMovesInflight(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "tm")
	cp := persistentConnect(packet.Version5, "dev")
	cp.Properties.SetUint(packet.PropReceiveMaximum, 5)
	x, _ := connectOn(t, ps[0], cp)
	x.Subscribe(1, "d/#", 2)
	// A witness on n1 tells when the forwarded messages arrived there:
	// forwarding is not tied to the publisher's acknowledgement yet.
	w, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "witness")
	w.Subscribe(1, "d/#", 1)
	waitRoutes(t, ps[0], 1, ps...)

	pub, _ := testutil.Connect(t, ps[2].mqtt, packet.Version5, "pub")
	for i := range 10 {
		id := uint16(i + 1)
		pub.Send(&packet.Publish{Topic: "d/2", QoS: 2, PacketID: id, Payload: []byte(fmt.Sprint("two", i))})
		if a := testutil.Expect[*packet.Ack](pub); a.Kind != packet.TypePubrec || a.ReasonCode >= 0x80 {
			t.Fatalf("PUBREC: got %+v", a)
		}
		pub.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: id})
		if a := testutil.Expect[*packet.Ack](pub); a.Kind != packet.TypePubcomp {
			t.Fatalf("PUBCOMP: got %+v", a)
		}
	}
	publishAcked(t, pub, "d/1", "one", 10, nil, new(uint16))
	for i := range 10 {
		expectPublish(t, w, "d/2", fmt.Sprint("two", i))
	}
	for i := range 10 {
		expectPublish(t, w, "d/1", fmt.Sprint("one", i))
	}

	// Five in flight (Receive Maximum): the first gets its PUBREC, the
	// others nothing; the rest wait in the queue.
	var first *packet.Publish
	ids := map[string]uint16{}
	for i := range 5 {
		p := testutil.Expect[*packet.Publish](x)
		if p.Topic != "d/2" || string(p.Payload) != fmt.Sprint("two", i) {
			t.Fatalf("in flight %d: got %q %q", i, p.Topic, p.Payload)
		}
		ids[string(p.Payload)] = p.PacketID
		if i == 0 {
			first = p
		}
	}
	x.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: first.PacketID})
	if a := testutil.Expect[*packet.Ack](x); a.Kind != packet.TypePubrel {
		t.Fatalf("got %v, want PUBREL", a.Kind)
	}

	x2, ack := connectOn(t, ps[1], cp)
	expectTakenOver(t, x)
	if !ack.SessionPresent {
		t.Fatal("CONNACK on n2: session present 0, want 1")
	}
	got := map[string]bool{}
	released := false
	for len(got) < 19 || !released {
		switch p := x2.Next().(type) {
		case *packet.Ack:
			if p.Kind != packet.TypePubrel || p.PacketID == first.PacketID && released {
				t.Fatalf("got %v %d, want one PUBREL %d (and those of the PUBRECs sent)", p.Kind, p.PacketID, first.PacketID)
			}
			released = released || p.PacketID == first.PacketID
			x2.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: p.PacketID})
		case *packet.Publish:
			k := string(p.Payload)
			if got[k] || k == "two0" {
				t.Fatalf("%s received twice", k)
			}
			if pid, ok := ids[k]; ok && (pid != p.PacketID || !p.Dup) {
				t.Errorf("%s resent with id %d dup %v, want id %d with DUP", k, p.PacketID, p.Dup, pid)
			}
			got[k] = true
			if p.QoS == 1 {
				x2.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
			} else {
				x2.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: p.PacketID})
			}
		default:
			t.Fatalf("got %T", p)
		}
	}
}
