package broker

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/config"
)

// clusterConfig turns the cluster_* options into a cluster.Config.
func clusterConfig(c config.Cluster) cluster.Config {
	return cluster.Config{
		Name:            c.Name,
		NodeID:          c.NodeID,
		Listen:          c.Listen,
		Gossip:          c.Gossip,
		Join:            c.Join,
		BootstrapExpect: c.BootstrapExpect,
		DataDir:         c.DataDir,
	}
}

// startCluster starts this broker's cluster node when the configuration
// has cluster options. The node forms or joins the cluster in the
// background; the broker does not wait for it. (Claims on CONNECT and
// cross-node delivery need broker hooks: docs/cluster.md.)
func (b *brokerRun) startCluster(ctx context.Context) error {
	c := b.res.Cluster
	if c.Name == "" {
		return nil
	}
	cfg := clusterConfig(c)
	cfg.Logger = b.log
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	b.cluster = n
	b.log.Info(fmt.Sprintf("Cluster %q: node %s on %s (gossip %s), data in %s.", c.Name, n.ID(), n.Addr(), n.GossipAddr(), c.DataDir))
	return nil
}

// stopCluster leaves the cluster gracefully.
func (b *brokerRun) stopCluster() {
	if b.cluster == nil {
		return
	}
	if err := b.cluster.Close(); err != nil {
		b.log.Error("Error: closing the cluster node: " + err.Error())
	}
	b.cluster = nil
}
