package cluster

import (
	"context"
	"testing"
)

// TestAdvertise checks that a node tells the other nodes its advertised
// addresses, not those it listens on, and that Validate refuses a gossip
// advertise address that is not IP:PORT.
func TestAdvertise(t *testing.T) {
	t.Parallel()
	n, err := Start(context.Background(), Config{Name: "adv", NodeID: "a", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		Advertise: "node-a.example:17000", GossipAdvertise: "192.0.2.1:17001", BootstrapExpect: 1,
		DataDir: t.TempDir(), Logger: testLogger(t, "a")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Addr() != "node-a.example:17000" || n.GossipAddr() != "192.0.2.1:17001" {
		t.Errorf("Addr, GossipAddr = %s, %s; want the advertised ones", n.Addr(), n.GossipAddr())
	}
	for _, adv := range []string{"node-a.example:17001", "192.0.2.1", "192.0.2.1:99999"} {
		c := Config{Name: "adv", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0", BootstrapExpect: 1, DataDir: "d", GossipAdvertise: adv}
		if c.Validate() == nil {
			t.Errorf("GossipAdvertise %q: no error", adv)
		}
	}
}
