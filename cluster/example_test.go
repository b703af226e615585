package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/midge-mqtt/midge/cluster"
)

// A node of a three-node cluster claims a client identifier before
// accepting its CONNECT, and refuses the client when the cluster cannot
// agree (the minority side of a partition).
func Example() {
	n, err := cluster.Start(context.Background(), cluster.Config{
		Name:            "prod",
		NodeID:          "n1",
		Listen:          "10.0.0.1:7946",
		Gossip:          "10.0.0.1:7947",
		Join:            []string{"10.0.0.2:7947", "10.0.0.3:7947"},
		BootstrapExpect: 3,
		DataDir:         "/var/lib/midge/cluster",
		OnChange: func(c cluster.Change) {
			if c.Kind == cluster.OwnerChanged && c.Previous == "n1" && c.Owner != "n1" {
				fmt.Println("close the local connection of", c.ClientID) // taken over elsewhere
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	claim, err := n.Claim(ctx, "sensor-17")
	switch {
	case errors.Is(err, cluster.ErrUnavailable):
		fmt.Println("CONNACK 0x88: server unavailable")
		return
	case err != nil:
		log.Fatal(err)
	}
	if claim.Previous != "" && claim.Previous != n.ID() {
		fmt.Println("sensor-17 was connected on", claim.Previous, "which now closes that connection")
	}
	// ... serve the client; when its connection ends:
	n.Release(context.Background(), claim)
}
