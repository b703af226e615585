package cluster

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// peerOf returns what s says of the forwarding stream to node id.
func peerOf(s cluster.Status, id string) cluster.PeerStatus {
	i := slices.IndexFunc(s.Peers, func(p cluster.PeerStatus) bool { return p.ID == id })
	if i < 0 {
		return cluster.PeerStatus{ID: id}
	}
	return s.Peers[i]
}

// waitRoutes waits until every node of ps but owner knows owner's routes,
// n of them.
func waitRoutes(t *testing.T, owner *proc, n int, ps ...*proc) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d routes of %s on the other nodes", n, owner.id), func() bool {
		for _, p := range ps {
			if p == owner {
				continue
			}
			s, ok := p.status()
			if k, known := s.Routes[owner.id]; !ok || !known || k != n {
				return false
			}
		}
		return true
	})
}

// TestRoutes checks, with three midge processes, that a message goes only
// to the nodes with a matching subscription (wildcards included), each of
// its messages; that an unsubscribe stops the forwards to a node; and that
// the survivors drop the routes of a node killed with SIGKILL once
// memberlist declares it dead.
func TestRoutes(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "rt")
	v5 := packet.Version5

	sub, _ := testutil.Connect(t, ps[1].mqtt, v5, "sub")
	sub.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "w/+/x", QoS: 1}, {Filter: "h/#", QoS: 1}}})
	testutil.Expect[*packet.Suback](sub)
	waitRoutes(t, ps[1], 2, ps...)
	waitRoutes(t, ps[2], 0, ps...)
	before, _ := ps[0].status()

	pub, _ := testutil.Connect(t, ps[0].mqtt, v5, "pub")
	const n = 40
	publishAcked(t, pub, "w/a/x", "w", n, nil, nil)
	publishAcked(t, pub, "h", "h", n, nil, nil) // "h/#" matches "h" too
	publishAcked(t, pub, "h/1/2", "h12-", n, nil, nil)
	publishAcked(t, pub, "nobody/listens", "x", n, nil, nil)
	publishAcked(t, pub, "w/a/y", "x", n, nil, nil)
	for _, w := range []struct {
		topic, prefix string
	}{{"w/a/x", "w"}, {"h", "h"}, {"h/1/2", "h12-"}} {
		for i := range n {
			expectPublish(t, sub, w.topic, fmt.Sprint(w.prefix, i))
		}
	}
	after, _ := ps[0].status()
	if got := peerOf(after, "rt2").Sent - peerOf(before, "rt2").Sent; got != 3*n {
		t.Errorf("frames sent to rt2, the subscriber's node: %d, want %d", got, 3*n)
	}
	to3b, to3 := peerOf(before, "rt3"), peerOf(after, "rt3")
	if to3.Sent != to3b.Sent || to3.Queued != 0 || to3.Dropped != to3b.Dropped {
		t.Errorf("frames for rt3, without a subscriber: %d sent (%d before), %d queued, %d dropped", to3.Sent, to3b.Sent, to3.Queued, to3.Dropped)
	}

	// An unsubscribe stops the forwards of its filter.
	sub.Send(&packet.Unsubscribe{PacketID: 2, Filters: []string{"h/#"}})
	testutil.Expect[*packet.Unsuback](sub)
	waitRoutes(t, ps[1], 1, ps...)
	before, _ = ps[0].status()
	publishAcked(t, pub, "h/1", "gone", n, nil, nil)
	publishAcked(t, pub, "w/b/x", "still", 1, nil, nil)
	expectPublish(t, sub, "w/b/x", "still0")
	after, _ = ps[0].status()
	if got := peerOf(after, "rt2").Sent - peerOf(before, "rt2").Sent; got != 1 {
		t.Errorf("frames sent to rt2 after its unsubscribe: %d, want 1", got)
	}

	// A persistent session's subscription stays a route while it is
	// offline: its messages wait for it on its node.
	var props packet.Properties
	props.SetUint(packet.PropSessionExpiry, 3600)
	// Its will, published once its node has handled the end of its
	// connection, tells when it is offline.
	sub.Subscribe(3, "will/off", 0)
	off := testutil.Dial(t, ps[1].mqtt, v5)
	off.Connect(&packet.Connect{ClientID: "off", CleanStart: true, KeepAlive: 60, Properties: props,
		Will: &packet.Will{Topic: "will/off", Payload: []byte("gone")}})
	off.Subscribe(1, "o/#", 1)
	off.Close() // no DISCONNECT: the will goes
	expectPublish(t, sub, "will/off", "gone")
	waitRoutes(t, ps[1], 3, ps...)
	publishAcked(t, pub, "o/1", "queued", 1, nil, nil)
	back := testutil.Dial(t, ps[1].mqtt, v5)
	if ack := back.Connect(&packet.Connect{ClientID: "off", KeepAlive: 60, Properties: props}); !ack.SessionPresent {
		t.Fatalf("the offline session's CONNACK %+v: no session present", ack)
	}
	expectPublish(t, back, "o/1", "queued0")

	// SIGKILL: the survivors drop the dead node's routes.
	ps[1].kill()
	waitFor(t, "rt2's routes dropped on the survivors", func() bool {
		for _, p := range []*proc{ps[0], ps[2]} {
			s, ok := p.status()
			if _, known := s.Routes["rt2"]; !ok || known {
				return false
			}
			if m, _ := member(s, "rt2"); m.State != "dead" {
				return false
			}
		}
		return true
	})
	publishAcked(t, pub, "w/c/x", "dead", n, nil, nil)
	s, _ := ps[0].status()
	if p := peerOf(s, "rt2"); p.Queued != 0 {
		t.Errorf("%d frames queued for the dead node", p.Queued)
	}
	if !strings.Contains(ps[0].out.String(), "dropping the routes of a member that failed or left") {
		t.Errorf("rt1 did not log the routes it dropped")
	}
}

// TestSharedAcrossCluster checks that a shared subscription whose members
// are on the three nodes gets each message once in the cluster, whichever
// node it was published on, and that every node's member gets some.
func TestSharedAcrossCluster(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "sh")
	v5 := packet.Version5

	var mu sync.Mutex              // guards got, dups
	got := make(map[string]string) // payload → member
	var dups []string
	var wg sync.WaitGroup
	var members []*testutil.Client
	for i, p := range ps {
		m, _ := testutil.Connect(t, p.mqtt, v5, fmt.Sprint("m", i+1))
		m.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "$share/g/t/#", QoS: 1}, {Filter: "end/#", QoS: 1}}})
		testutil.Expect[*packet.Suback](m)
		members = append(members, m)
	}
	for _, p := range ps {
		waitRoutes(t, p, 2, ps...)
	}
	for i, m := range members {
		name := fmt.Sprint("m", i+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each publisher's end marker comes after its messages, on every
			// node: once the three are in, nothing more of them can come.
			for ends := 0; ends < len(ps); {
				pk, err := m.Read(clusterWait)
				if err != nil {
					return
				}
				p, ok := pk.(*packet.Publish)
				if !ok {
					continue
				}
				m.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
				if strings.HasPrefix(p.Topic, "end/") {
					ends++
					continue
				}
				mu.Lock()
				if _, seen := got[string(p.Payload)]; seen {
					dups = append(dups, string(p.Payload))
				}
				got[string(p.Payload)] = name
				mu.Unlock()
			}
		}()
	}

	const n = 100
	var pwg sync.WaitGroup
	for i, p := range ps {
		pub, _ := testutil.Connect(t, p.mqtt, v5, fmt.Sprint("p", i+1))
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for k := range n {
				// One at a time: the broker's Receive Maximum bounds what
				// is unacknowledged.
				pub.Send(&packet.Publish{Topic: fmt.Sprintf("t/%d/%d", i, k), QoS: 1, PacketID: uint16(k + 1), Payload: []byte(fmt.Sprintf("%d-%d", i, k))})
				if _, err := pub.Read(clusterWait); err != nil {
					return
				}
			}
			pub.Send(&packet.Publish{Topic: fmt.Sprint("end/", i), QoS: 1, PacketID: n + 1, Payload: []byte("end")})
		}()
	}
	pwg.Wait()
	wg.Wait()

	per := make(map[string]int)
	for _, who := range got {
		per[who]++
	}
	if len(dups) > 0 || len(got) != 3*n {
		t.Errorf("%d messages delivered, duplicates %q; want each of %d once", len(got), dups, 3*n)
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		if per[m] == 0 {
			t.Errorf("member %s got nothing: %v", m, per)
		}
	}
	t.Logf("messages per member: %v", per)
}
