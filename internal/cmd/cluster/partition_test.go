package cluster

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// proxied is a node whose cluster and gossip ports the other nodes reach
// through fault-injecting proxies (cluster_advertise,
// cluster_gossip_advertise).
type proxied struct {
	*proc
	ip             string // the loopback address the node listens on and dials from
	cproxy, gproxy *testutil.FaultProxy
}

// newProxied writes the configuration of node id of cluster name,
// listening on ip, behind two proxies; not started, without seeds.
func newProxied(t *testing.T, name, id, ip string) *proxied {
	t.Helper()
	// The proxies first: they hold their ports from now on, and cannot
	// take the node's between its choice and its start.
	cproxy, gproxy := testutil.NewFaultProxy(t, "", false), testutil.NewFaultProxy(t, "", true)
	clusterAddr := net.JoinHostPort(ip, fmt.Sprint(testutil.FreePort(t)))
	gossipAddr := net.JoinHostPort(ip, fmt.Sprint(testutil.FreePort(t)))
	cproxy.SetTarget(clusterAddr)
	gproxy.SetTarget(gossipAddr)
	p := newNode(t, name, id, clusterAddr, gossipAddr, fmt.Sprintf("cluster_advertise %s\ncluster_gossip_advertise %s\ncluster_bootstrap_expect 3\n",
		cproxy.Addr, gproxy.Addr))
	return &proxied{proc: p, ip: ip, cproxy: cproxy, gproxy: gproxy}
}

// acked are the QoS 1 messages acknowledged to the majority's publishers.
type acked map[string]bool

// publishAcked publishes count QoS 1 messages on topic from c, payloads
// prefix0, prefix1, ..., expecting a PUBACK for each, and records them in
// a unless it is nil. id is the last packet identifier c used (nil: c
// has none in flight).
func publishAcked(t *testing.T, c *testutil.Client, topic, prefix string, count int, a acked, id *uint16) {
	t.Helper()
	if id == nil {
		id = new(uint16)
	}
	for i := range count {
		*id = *id%65535 + 1
		payload := fmt.Sprint(prefix, i)
		c.Send(&packet.Publish{Topic: topic, QoS: 1, PacketID: *id, Payload: []byte(payload)})
		ack := testutil.Expect[*packet.Ack](c)
		// MQTT 5's 0x10 No matching subscribers acknowledges too.
		if ack.Kind != packet.TypePuback || ack.PacketID != *id || ack.ReasonCode >= 0x80 {
			t.Fatalf("publishing %q: got %v %+v, want a PUBACK of success", payload, ack.Kind, ack)
		}
		if a != nil {
			a[topic+" "+payload] = true
		}
	}
}

// receiveAll reads PUBLISHes from sub (acknowledging them) until every
// message of want was received, and fails on a message published on no
// listed topic.
func receiveAll(t *testing.T, sub *testutil.Client, name string, want acked) {
	t.Helper()
	missing := make(map[string]bool)
	for k := range want {
		missing[k] = true
	}
	sub.Wait = clusterWait
	for len(missing) > 0 {
		p := sub.NextPublish()
		if p.QoS > 0 {
			sub.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
		}
		delete(missing, p.Topic+" "+string(p.Payload))
	}
}

// expectFenced checks that c's connection is closed by a fenced node: MQTT
// 5 DISCONNECT 0x9C Use another server, then the close.
func expectFenced(t *testing.T, c *testutil.Client, what string) {
	t.Helper()
	c.Wait = clusterWait
	got := c.ExpectClosed()
	if len(got) != 1 {
		t.Fatalf("%s: got %d packets before the close, want one DISCONNECT", what, len(got))
	}
	if d, ok := got[0].(*packet.Disconnect); !ok || d.ReasonCode != packet.UseAnotherServer {
		t.Fatalf("%s: got %v %+v before the close, want DISCONNECT 0x9C", what, got[0].Type(), got[0])
	}
}

// TestPartition cuts a node off the two others with fault-injecting
// proxies on every node's cluster and gossip ports, and checks the fencing
// of docs/cluster.md: the cut-off node closes its clients and refuses new
// ones; a client id connected there is admitted on the majority side only
// once its connection on the cut-off node has closed; the majority goes on
// delivering QoS 1 messages; after the partition heals the node rejoins
// and admits clients again, and every message acknowledged to a publisher
// of the majority side reached the majority's subscribers.
func TestPartition(t *testing.T) {
	t.Parallel()
	// The cut-off node listens, and dials the others, from an address of
	// its own, so that the proxies in front of the others can drop what it
	// sends.
	const isolatedIP = "127.0.0.3"
	ns := []*proxied{newProxied(t, "part", "p1", "127.0.0.1"), newProxied(t, "part", "p2", "127.0.0.1"),
		newProxied(t, "part", "p3", isolatedIP)}
	seeds := make([]string, len(ns))
	ps := make([]*proc, len(ns))
	for i, n := range ns {
		seeds[i], ps[i] = n.gproxy.Addr, n.proc
	}
	for _, n := range ns {
		n.appendConf("cluster_join " + strings.Join(seeds, " ") + "\n")
		n.start()
	}
	waitFor(t, "three nodes with one leader", func() bool { _, ok := formed(ps...); return ok })
	waitFor(t, "every forwarding stream up", func() bool { return streamsUp(ps) })
	n1, n3 := ns[0], ns[2]

	// Clients on both sides: X on the node to be cut off, a QoS 1
	// publisher and subscriber on each node.
	x, _ := testutil.Connect(t, n3.mqtt, packet.Version5, "X")
	var subs, pubs []*testutil.Client
	for i, n := range ns {
		s, _ := testutil.Connect(t, n.mqtt, packet.Version5, fmt.Sprintf("sub%d", i+1))
		s.Subscribe(1, "part/#", 1)
		p, _ := testutil.Connect(t, n.mqtt, packet.Version5, fmt.Sprintf("pub%d", i+1))
		subs, pubs = append(subs, s), append(pubs, p)
	}
	// Routes reach the other nodes asynchronously (docs/cluster.md,
	// Routes): publish once every node knows every node's subscription.
	for _, p := range ps {
		waitRoutes(t, p, 1, ps...)
	}
	ids := make([]uint16, 3)
	before := acked{}
	for i := range ns {
		publishAcked(t, pubs[i], fmt.Sprintf("part/%d", i+1), "before", 5, before, &ids[i])
	}
	for i, s := range subs {
		receiveAll(t, s, fmt.Sprintf("sub%d", i+1), before)
	}

	// Cut p3 off: nothing reaches it, nothing it sends reaches the others.
	n3.cproxy.Cut()
	n3.gproxy.Cut()
	for _, n := range ns[:2] {
		n.cproxy.Block(isolatedIP)
		n.gproxy.Block(isolatedIP)
	}
	cutAt := time.Now()

	// X connects on p1 at once; its CONNACK must come after X's connection
	// on p3 was closed. (Refused while p1 and p2 elect a leader, when p3
	// led: it tries again.)
	type ack struct {
		c   *testutil.Client
		p   packet.Packet
		err error
		at  time.Time
	}
	x1Ack := make(chan ack, 1)
	go func() {
		for {
			nc, err := net.Dial("tcp", n1.mqtt)
			if err != nil {
				x1Ack <- ack{err: err}
				return
			}
			c := testutil.NewClient(t, nc, packet.Version5)
			c.Send(&packet.Connect{ClientID: "X", CleanStart: true, KeepAlive: 60, ProtocolVersion: packet.Version5})
			p, err := c.Read(clusterWait)
			if ca, ok := p.(*packet.Connack); ok && ca.ReasonCode == packet.ServerUnavailable && time.Since(cutAt) < clusterWait {
				nc.Close()
				continue
			}
			x1Ack <- ack{c, p, err, time.Now()}
			return
		}
	}()

	expectFenced(t, x, "X on the cut-off node")
	xClosedAt := time.Now()
	var a ack
	select {
	case a = <-x1Ack:
	case <-time.After(clusterWait):
		t.Fatal("no CONNACK for X on p1")
	}
	if a.err != nil {
		t.Fatalf("X on p1: %v", a.err)
	}
	if c, ok := a.p.(*packet.Connack); !ok || c.ReasonCode != packet.Success {
		t.Fatalf("X on p1: got %v %+v, want CONNACK 0", a.p.Type(), a.p)
	}
	if !a.at.After(xClosedAt) {
		t.Fatalf("X admitted on p1 %v after the cut, before its connection on p3 was seen closed (%v after the cut)",
			a.at.Sub(cutAt), xClosedAt.Sub(cutAt))
	}
	t.Logf("X closed on p3 %v after the cut, admitted on p1 %v after it (lease %v, margin %v)",
		xClosedAt.Sub(cutAt).Round(time.Millisecond), a.at.Sub(cutAt).Round(time.Millisecond), cluster.FenceLease, cluster.TakeoverMargin)
	x1 := a.c
	ping(t, x1)

	// p3's other clients are closed too, and new ones refused.
	expectFenced(t, subs[2], "sub3")
	expectFenced(t, pubs[2], "pub3")
	if rc := connackOn(t, n3.proc, packet.Version5, "late5"); rc != packet.ServerUnavailable {
		t.Errorf("MQTT 5 CONNACK %v on the cut-off node, want 0x88 Server unavailable", rc)
	}
	if rc := connackOn(t, n3.proc, packet.Version311, "late311"); rc != packet.ConnackV3ServerUnavailable {
		t.Errorf("MQTT 3.1.1 CONNACK %v on the cut-off node, want return code 3", rc)
	}

	// The majority goes on.
	during := acked{}
	for i := range 2 {
		publishAcked(t, pubs[i], fmt.Sprintf("part/%d", i+1), "during", 20, during, &ids[i])
	}
	for i, s := range subs[:2] {
		receiveAll(t, s, fmt.Sprintf("sub%d", i+1), during)
	}

	// Heal: p3 rejoins and admits clients again.
	for _, n := range ns {
		n.cproxy.Restore()
		n.gproxy.Restore()
	}
	waitFor(t, "p3 back in the cluster", func() bool { _, ok := formed(ps...); return ok })
	waitFor(t, "every forwarding stream up again", func() bool { return streamsUp(ps) })
	var sub3 *testutil.Client
	waitFor(t, "p3 admitting clients", func() bool {
		c := testutil.Dial(t, n3.mqtt, packet.Version5)
		c.Wait = clusterWait
		if c.Connect(&packet.Connect{ClientID: "sub3", CleanStart: true, KeepAlive: 60}).ReasonCode != packet.Success {
			c.Close()
			return false
		}
		sub3 = c
		return true
	})
	sub3.Subscribe(1, "part/#", 1)
	waitRoutes(t, ps[2], 1, ps...) // the others forward to p3 once they know its route
	after := acked{}
	for i := range 2 {
		publishAcked(t, pubs[i], fmt.Sprintf("part/%d", i+1), "after", 5, after, &ids[i])
	}
	for i, s := range subs[:2] {
		receiveAll(t, s, fmt.Sprintf("sub%d", i+1), after)
	}
	receiveAll(t, sub3, "sub3", after)
	ping(t, x1)
}
