package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// startThree starts three nodes of a new cluster and waits until they have
// a leader and every forwarding stream is up.
func startThree(t *testing.T, name string) []*proc {
	t.Helper()
	var ps []*proc
	for i := range 3 {
		var join []string
		if i > 0 {
			join = []string{ps[0].gossip}
		}
		ps = append(ps, newProc(t, name, fmt.Sprintf("%s%d", name, i+1), 3, join))
	}
	ps[0].start()
	ps[1].start()
	ps[2].start()
	waitFor(t, "three nodes with one leader", func() bool { _, ok := formed(ps...); return ok })
	waitFor(t, "every forwarding stream up", func() bool { return streamsUp(ps) })
	return ps
}

// streamsUp reports whether each node of ps has its forwarding streams to
// all the others open.
func streamsUp(ps []*proc) bool {
	for _, p := range ps {
		s, ok := p.status()
		up := 0
		for _, pe := range s.Peers {
			if pe.Connected {
				up++
			}
		}
		if !ok || up != len(ps)-1 {
			return false
		}
	}
	return true
}

// expectPublish reads the next packet from c: a PUBLISH of topic and
// payload, which it returns.
func expectPublish(t *testing.T, c *testutil.Client, topic, payload string) *packet.Publish {
	t.Helper()
	p := testutil.Expect[*packet.Publish](c)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got PUBLISH %q %q, want %q %q", p.Topic, p.Payload, topic, payload)
	}
	if p.QoS > 0 {
		c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
	}
	return p
}

// expectPuback reads a PUBACK from c.
func expectPuback(t *testing.T, c *testutil.Client) {
	t.Helper()
	if a := testutil.Expect[*packet.Ack](c); a.Kind != packet.TypePuback {
		t.Fatalf("got %v, want PUBACK", a.Kind)
	}
}

// TestCrossNodeDelivery checks, with MQTT clients on three midge
// processes, that what is published on one node reaches the subscribers of
// the others, both ways, with wildcards, QoS, MQTT 5 properties and
// retained messages, and only once (a forwarded message is not forwarded
// again).
func TestCrossNodeDelivery(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "x")
	v5 := packet.Version5

	sub1, _ := testutil.Connect(t, ps[0].mqtt, v5, "sub1")
	sub1.Subscribe(1, "a/#", 1)
	sub3, _ := testutil.Connect(t, ps[2].mqtt, v5, "sub3")
	sub3.Subscribe(1, "a/b", 0)
	waitRoutes(t, ps[0], 1, ps...) // a message goes to the nodes with a matching route
	waitRoutes(t, ps[2], 1, ps...)

	pub2, _ := testutil.Connect(t, ps[1].mqtt, v5, "pub2")
	pp := &packet.Publish{Topic: "a/b", QoS: 1, PacketID: 7, Payload: []byte("from n2")}
	pp.Properties.SetString(packet.PropContentType, "text/plain")
	pp.Properties.User = []packet.UserProperty{{Key: "k", Value: "v"}}
	pub2.Send(pp)
	expectPuback(t, pub2)

	got := expectPublish(t, sub1, "a/b", "from n2")
	if got.QoS != 1 || got.Properties.ContentType != "text/plain" || len(got.Properties.User) != 1 || got.Properties.User[0] != (packet.UserProperty{Key: "k", Value: "v"}) {
		t.Errorf("sub1 on n1 got %+v", got)
	}
	if got := expectPublish(t, sub3, "a/b", "from n2"); got.QoS != 0 {
		t.Errorf("sub3 on n3 got QoS %d, want 0", got.QoS)
	}

	// The other way, and a topic that only the wildcard matches.
	pub3, _ := testutil.Connect(t, ps[2].mqtt, v5, "pub3")
	pub3.Send(&packet.Publish{Topic: "a/c/d", Payload: []byte("from n3")})
	expectPublish(t, sub1, "a/c/d", "from n3")

	// Once, not again through another node.
	sub1.ExpectNothing(time.Second)
	sub3.ExpectNothing(100 * time.Millisecond)

	// A retained message published on n3 is retained on n2.
	sub2, _ := testutil.Connect(t, ps[1].mqtt, v5, "sub2")
	sub2.Subscribe(1, "r/#", 1)
	waitRoutes(t, ps[1], 1, ps...)
	pub3.Send(&packet.Publish{Topic: "r/x", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("kept")})
	expectPuback(t, pub3)
	expectPublish(t, sub2, "r/x", "kept")
	// The live delivery comes through forwarding, the retained copy through
	// raft's agreement, usually later: a new subscriber gets it retained
	// soon after.
	waitFor(t, "r/x retained on n2", func() bool {
		late, _ := testutil.Connect(t, ps[1].mqtt, v5, "late")
		defer late.Close()
		late.Subscribe(1, "r/#", 1)
		pk, err := late.Read(time.Second)
		p, ok := pk.(*packet.Publish)
		return err == nil && ok && p.Topic == "r/x" && string(p.Payload) == "kept" && p.Retain
	})

	// The node's view under $SYS/broker/cluster/.
	sys, _ := testutil.Connect(t, ps[1].mqtt, v5, "sys")
	sys.Subscribe(1, "$SYS/broker/cluster/#", 0)
	leader, _ := formed(ps...)
	want := map[string]string{"node_id": "x2", "leader": leader, "members/x1": "alive voter", "peers/x3/dropped": "0", "routes/x1": "1"}
	for len(want) > 0 {
		p := testutil.Expect[*packet.Publish](sys)
		k := p.Topic[len("$SYS/broker/cluster/"):]
		if w, ok := want[k]; ok && w == string(p.Payload) {
			delete(want, k)
		}
	}
}
