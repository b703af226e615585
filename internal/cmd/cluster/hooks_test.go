package cluster

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// probes numbers the client identifiers of retainedOn.
var probes atomic.Uint64

// retainedOn connects a new MQTT 5 client to p, subscribes to topic and
// reports the retained message p sends for it, if any. A message the
// client publishes to itself after the SUBACK marks the end: the retained
// message, queued by the SUBSCRIBE, comes before it.
func retainedOn(t *testing.T, p *proc, topic string) (payload string, found bool) {
	t.Helper()
	id := fmt.Sprintf("probe-%d", probes.Add(1))
	c, _ := testutil.Connect(t, p.mqtt, packet.Version5, id)
	defer c.Close()
	c.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: topic, QoS: 1}, {Filter: "end/" + id}}})
	c.Send(&packet.Publish{Topic: "end/" + id, Payload: []byte("end")})
	for {
		pp := c.NextPublish() // passes over the SUBACK
		switch pp.Topic {
		case topic:
			if !pp.Retain {
				t.Fatalf("%s sent %q on %q without the retain flag", p.id, pp.Payload, topic)
			}
			if pp.QoS > 0 {
				c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: pp.PacketID})
			}
			payload, found = string(pp.Payload), true
		case "end/" + id:
			return payload, found
		}
	}
}

// ping checks that c's connection is open and served.
func ping(t *testing.T, c *testutil.Client) {
	t.Helper()
	c.Send(&packet.Pingreq{})
	testutil.Expect[*packet.Pingresp](c)
}

// expectTakenOver checks that the server closes c's connection, with
// DISCONNECT 0x8E (Session taken over) before the close in MQTT 5 and
// nothing in MQTT 3.1.1.
func expectTakenOver(t *testing.T, c *testutil.Client) {
	t.Helper()
	got := c.ExpectClosed()
	if c.Version != packet.Version5 {
		if len(got) != 0 {
			t.Fatalf("MQTT 3.1.1 connection got %d packets before its close, want none", len(got))
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("got %d packets before the close, want one DISCONNECT", len(got))
	}
	if d, ok := got[0].(*packet.Disconnect); !ok || d.ReasonCode != packet.SessionTakenOver {
		t.Fatalf("got %v %+v before the close, want DISCONNECT 0x8E", got[0].Type(), got[0])
	}
}

// TestTakeoverAcrossNodes checks that a client identifier is unique across
// the cluster: the same identifier connecting on another node closes the
// first connection (MQTT 5: DISCONNECT 0x8E, Session taken over) and the
// new one stays; back on the first node, the second one is closed.
func TestTakeoverAcrossNodes(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "k")

	a, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "dev")
	b, _ := testutil.Connect(t, ps[1].mqtt, packet.Version5, "dev")
	expectTakenOver(t, a)
	ping(t, b)

	// Back to the first node: the connection on the second closes, and
	// the first node keeps its new connection.
	a2, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "dev")
	expectTakenOver(t, b)
	ping(t, a2)

	// MQTT 3.1.1 has no DISCONNECT from the server: the connection closes.
	old, _ := testutil.Connect(t, ps[2].mqtt, packet.Version311, "dev311")
	ping(t, old)
	newer, _ := testutil.Connect(t, ps[0].mqtt, packet.Version311, "dev311")
	expectTakenOver(t, old)
	ping(t, newer)
	ping(t, a2)
}

// connackOn sends a CONNECT for id to p in version v and returns the
// CONNACK's code, waiting long enough for a claim that cannot be agreed.
func connackOn(t *testing.T, p *proc, v byte, id string) packet.ReasonCode {
	t.Helper()
	c := testutil.Dial(t, p.mqtt, v)
	defer c.Close()
	c.Wait = 30 * time.Second
	return c.Connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}).ReasonCode
}

// TestMinorityRefusesConnect checks that a node without a majority (the
// two others stopped) refuses new clients with CONNACK 0x88 (MQTT 3.1.1:
// return code 3), and admits them again once the others are back.
func TestMinorityRefusesConnect(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "m")
	lone := ps[0]
	if rc := connackOn(t, lone, packet.Version5, "before"); rc != packet.Success {
		t.Fatalf("CONNACK %v with a majority", rc)
	}
	ps[1].stop()
	ps[2].stop()
	waitFor(t, "the lone node without a leader", func() bool { s, ok := lone.status(); return ok && s.Leader == "" })
	if rc := connackOn(t, lone, packet.Version5, "alone5"); rc != packet.ServerUnavailable {
		t.Errorf("MQTT 5 CONNACK %v without a majority, want 0x88 Server unavailable", rc)
	}
	if rc := connackOn(t, lone, packet.Version311, "alone311"); rc != packet.ConnackV3ServerUnavailable {
		t.Errorf("MQTT 3.1.1 CONNACK %v without a majority, want return code 3", rc)
	}
	if out := lone.out.String(); !strings.Contains(out, "Client alone5 disconnected, cluster unavailable") {
		t.Errorf("the refusal is not logged:\n%s", out)
	}

	ps[1].start()
	ps[2].start()
	waitFor(t, "the cluster formed again", func() bool { _, ok := formed(ps...); return ok })
	if rc := connackOn(t, lone, packet.Version5, "back5"); rc != packet.Success {
		t.Errorf("MQTT 5 CONNACK %v with the majority back", rc)
	}
	if rc := connackOn(t, lone, packet.Version311, "back311"); rc != packet.Success {
		t.Errorf("MQTT 3.1.1 CONNACK %v with the majority back", rc)
	}
}

// TestRetainedThroughRaft checks that a retained message published on one
// node is retained on the others, a retained delete too, and that a node
// that was stopped meanwhile has it once it is back.
func TestRetainedThroughRaft(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "r")
	pub, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "pub")
	publish := func(topic, payload string) {
		t.Helper()
		pub.Send(&packet.Publish{Topic: topic, QoS: 1, PacketID: 1, Retain: true, Payload: []byte(payload)})
		expectPuback(t, pub)
	}

	publish("r/1", "v1")
	for _, p := range ps[1:] {
		waitFor(t, "r/1 retained on "+p.id, func() bool { v, ok := retainedOn(t, p, "r/1"); return ok && v == "v1" })
	}
	publish("r/1", "v2")
	waitFor(t, "the new r/1 on r3", func() bool { v, ok := retainedOn(t, ps[2], "r/1"); return ok && v == "v2" })
	publish("r/1", "")
	for _, p := range ps {
		waitFor(t, "r/1 deleted on "+p.id, func() bool { _, ok := retainedOn(t, p, "r/1"); return !ok })
	}

	// A node that was down when the message was published.
	ps[2].stop()
	publish("r/2", "while away")
	waitFor(t, "r/2 retained on r2", func() bool { v, ok := retainedOn(t, ps[1], "r/2"); return ok && v == "while away" })
	ps[2].start()
	waitFor(t, "the cluster formed again", func() bool { _, ok := formed(ps...); return ok })
	waitFor(t, "r/2 on the restarted node", func() bool { v, ok := retainedOn(t, ps[2], "r/2"); return ok && v == "while away" })
}

// TestRetainedDeliveredOnce checks that a subscriber on one node receives
// a retained message published on another once: forwarding delivers it,
// and raft's agreement only stores it.
func TestRetainedDeliveredOnce(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "d")
	sub, _ := testutil.Connect(t, ps[1].mqtt, packet.Version5, "sub")
	sub.Subscribe(1, "d/#", 1)
	waitRoutes(t, ps[1], 1, ps...)
	pub, _ := testutil.Connect(t, ps[0].mqtt, packet.Version5, "pub")
	pub.Send(&packet.Publish{Topic: "d/1", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("x")})
	expectPuback(t, pub)
	expectPublish(t, sub, "d/1", "x")

	// Once d/1 is stored on the subscriber's node, a message published
	// after it from the same publisher is the next the subscriber gets.
	waitFor(t, "d/1 retained on d2", func() bool { v, ok := retainedOn(t, ps[1], "d/1"); return ok && v == "x" })
	pub.Send(&packet.Publish{Topic: "d/end", QoS: 1, PacketID: 2, Payload: []byte("end")})
	expectPuback(t, pub)
	expectPublish(t, sub, "d/end", "end")
}
