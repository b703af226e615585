package broker

import (
	"context"
	"sync/atomic"
	"testing"

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
	h := newClusterHooks(func(s string) { t.Log(s) }, srv.Load)
	defer h.close()
	n, err := cluster.Start(context.Background(), cluster.Config{Name: "t", NodeID: "me", Listen: "127.0.0.1:0",
		Gossip: "127.0.0.1:0", BootstrapExpect: 1, DataDir: t.TempDir(), OnChange: h.onChange})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h.node = n
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
