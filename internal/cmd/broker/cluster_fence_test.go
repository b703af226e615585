package broker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	mbroker "github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestDroppedClaimStillClosed checks that when the leader drops this
// node's claims (it held the node failed: a partition), the connection
// stays recorded, so that the next claim of its client id, which takes it
// from the tombstone, closes it (DISCONNECT 0x8E): otherwise the id would
// stay connected here while the other node admits it.
func TestDroppedClaimStillClosed(t *testing.T) {
	t.Parallel()
	var srv atomic.Pointer[mbroker.Server]
	h := oneNodeHooks(t, srv.Load)
	b := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true, Admit: h.admit, OnDisconnect: h.disconnected})
	srv.Store(b.Server)

	c, _ := testutil.Connect(t, b.Addr, packet.Version5, "x") // admit waits for the leader
	h.mu.Lock()
	tok := h.claims["x"].claim.Token
	h.mu.Unlock()
	// The leader drops the claim (this node was held failed) ...
	h.onChange(cluster.Change{Kind: cluster.OwnerChanged, ClientID: "x", Previous: "me", PreviousToken: tok})
	c.Send(&packet.Pingreq{})
	testutil.Expect[*packet.Pingresp](c)
	// ... and another node claims the id from the tombstone.
	h.onChange(cluster.Change{Kind: cluster.OwnerChanged, ClientID: "x", Owner: "other", Previous: "me", PreviousToken: tok})
	got := c.ExpectClosed()
	if len(got) != 1 {
		t.Fatalf("got %d packets before the close, want one DISCONNECT", len(got))
	}
	if d, ok := got[0].(*packet.Disconnect); !ok || d.ReasonCode != packet.SessionTakenOver {
		t.Fatalf("got %v %+v before the close, want DISCONNECT 0x8E", got[0].Type(), got[0])
	}
}

// TestFenceLoop checks, in one process and under the race detector, that a
// node whose two peers are gone closes its clients with DISCONNECT 0x9C
// (Use another server) once it is fenced, and then refuses a CONNECT at
// once with 0x88.
func TestFenceLoop(t *testing.T) {
	t.Parallel()
	var srv atomic.Pointer[mbroker.Server]
	h := newClusterHooks(func(s string) { t.Log(s) }, srv.Load)
	start := func(id string, onChange func(cluster.Change), join ...string) *cluster.Node {
		n, err := cluster.Start(context.Background(), cluster.Config{Name: "f", NodeID: id, Listen: "127.0.0.1:0",
			Gossip: "127.0.0.1:0", Join: join, BootstrapExpect: 3, DataDir: t.TempDir(), OnChange: onChange})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start("a", h.onChange)
	b := start("b", nil, a.GossipAddr())
	c := start("c", nil, a.GossipAddr())
	h.node = a
	br := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true, Admit: h.admit, OnDisconnect: h.disconnected})
	srv.Store(br.Server)
	h.start(br.Server)
	defer h.close()

	var x *testutil.Client
	testutil.WaitWithin(t, time.Minute, "a client admitted", func() bool {
		cl := testutil.Dial(t, br.Addr, packet.Version5)
		cl.Wait = 10 * time.Second
		if cl.Connect(&packet.Connect{ClientID: "x", CleanStart: true, KeepAlive: 60}).ReasonCode != packet.Success {
			cl.Close()
			return false
		}
		x = cl
		return true
	})
	b.Close()
	c.Close()
	x.Wait = time.Minute
	got := x.ExpectClosed()
	if len(got) != 1 {
		t.Fatalf("got %d packets before the close, want one DISCONNECT", len(got))
	}
	if d, ok := got[0].(*packet.Disconnect); !ok || d.ReasonCode != packet.UseAnotherServer {
		t.Fatalf("got %v %+v before the close, want DISCONNECT 0x9C", got[0].Type(), got[0])
	}
	if !a.Fenced() {
		t.Fatal("the client was closed by a node that is not fenced")
	}
	y := testutil.Dial(t, br.Addr, packet.Version5)
	if rc := y.Connect(&packet.Connect{ClientID: "y", CleanStart: true, KeepAlive: 60}).ReasonCode; rc != packet.ServerUnavailable {
		t.Errorf("CONNACK %v on a fenced node, want 0x88", rc)
	}
}
