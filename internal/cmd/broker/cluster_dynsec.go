package broker

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/dynsec"
)

// Dynamic security in a cluster: every change goes through raft
// (cluster.Node.Replicate, kind dynsecKind) and is applied by each node's
// dynsec.Security in raft's log order (dynsec.Security.Apply); the node a
// request arrived on answers with its own apply's response. The cluster's
// state, seeded by the first leader's file, replaces a node's own file
// when it joins (docs/cluster.md, docs/dynamic-security.md).

// dynsecKind is dynamic security's kind of replicated state.
const dynsecKind = "dynsec"

// dynsecTimeout bounds a change's trip through raft: without a majority in
// that time the change is refused. It is shorter than the fence lease: a
// client of a node that lost its majority gets the refusal before the node
// closes its connection (cluster_fence.go).
const dynsecTimeout = cluster.FenceLease / 2

// errNoCluster answers a change made before the cluster node started or
// after it stopped.
var errNoCluster = errors.New("cluster node not running")

// dynsecReplicate returns dynsec.Options.Replicate for this broker: nil
// without cluster options.
func (b *brokerRun) dynsecReplicate() func(ctx context.Context, cmd []byte) ([]byte, error) {
	if b.res.Cluster.Name == "" {
		return nil
	}
	return func(ctx context.Context, cmd []byte) ([]byte, error) {
		n := b.dynsecNode.Load()
		if n == nil {
			return nil, errNoCluster
		}
		ctx, cancel := context.WithTimeout(ctx, dynsecTimeout)
		defer cancel()
		return n.Replicate(ctx, dynsecKind, cmd)
	}
}

// clusterReplicated registers dynamic security, if in use, as a
// replicated state of the cluster configuration cfg.
func (b *brokerRun) clusterReplicated(cfg *cluster.Config) {
	if ds := b.dynsecOf(); ds != nil {
		cfg.Replicated = map[string]cluster.Replicated{dynsecKind: ds}
	}
}

// _ checks that dynamic security is a replicated state.
var _ cluster.Replicated = (*dynsec.Security)(nil)

// dynsecNode holds the cluster node dynamic security replicates through.
type dynsecNode struct{ atomic.Pointer[cluster.Node] }
