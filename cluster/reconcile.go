package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// reconcileLoop keeps the forwarding streams, and raft's voters while the
// node is the leader, in line with memberlist: every second, and at each
// membership event.
func (n *Node) reconcileLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-tick.C:
		case <-n.poke:
		}
		if !n.hasState.Load() && n.raft.LastIndex() > 0 {
			n.setHasState()
		}
		n.syncPeers()
		n.syncRoutes()
		if n.raft.State() != raft.Leader {
			n.mu.Lock()
			clear(n.failed)
			n.mu.Unlock()
			continue
		}
		n.reconcile(time.Now())
	}
}

// unheardGrace is how long after its start a leader waits before it holds
// a voter that memberlist has not told it of as failed.
const unheardGrace = 30 * time.Second

// reconcile adds the live members that are not voters, and removes the
// voters failed or unknown for longer than ReapTimeout, dropping their
// claims. A voter that memberlist declares dead loses its claims at once
// (its clients are gone; they reconnect elsewhere) but stays a voter.
func (n *Node) reconcile(now time.Time) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return
	}
	alive := n.alive()
	servers := make(map[string]raft.Server)
	for _, s := range f.Configuration().Servers {
		servers[string(s.ID)] = s
	}
	for id, m := range alive {
		s, ok := servers[id]
		if ok && string(s.Address) == m.Addr && s.Suffrage == raft.Voter {
			continue
		}
		if !n.verifyMember(id, m.Addr) {
			continue
		}
		n.log.Info("cluster: adding voter", "member", id, "address", m.Addr)
		if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(m.Addr), 0, 10*time.Second).Error(); err != nil {
			n.log.Warn("cluster: adding voter", "member", id, "err", err)
			return // leadership lost, or busy: next round
		}
	}
	var reap, dead []string
	n.mu.Lock()
	for id := range n.failed {
		if _, ok := servers[id]; !ok {
			delete(n.failed, id)
		}
	}
	for id := range servers {
		if _, ok := alive[id]; ok || id == n.cfg.NodeID {
			delete(n.failed, id)
			continue
		}
		if _, heard := n.members[id]; !heard && now.Sub(n.started) < unheardGrace {
			continue // this node has only just started: the gossip may not have told it yet
		}
		since, ok := n.failed[id]
		if !ok {
			n.failed[id] = now
			dead = append(dead, id)
			continue
		}
		if now.Sub(since) >= n.cfg.ReapTimeout {
			reap = append(reap, id)
		}
	}
	n.mu.Unlock()
	for _, id := range dead {
		n.dropClaims(id, true)
	}
	for _, id := range reap {
		// Never below the quorum of what is left: raft itself refuses a
		// change it cannot commit, and a leader has a majority.
		n.log.Warn("cluster: removing a voter failed for too long", "member", id, "reap_timeout", n.cfg.ReapTimeout)
		if err := n.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error(); err != nil {
			n.log.Warn("cluster: removing voter", "member", id, "err", err)
			return
		}
		n.mu.Lock()
		delete(n.failed, id)
		n.mu.Unlock()
		n.dropClaims(id, false)
	}
}

// dropClaims releases every claim of a node that failed (tomb: the node
// may still be running, cut off, and its claims stay as tombstones for
// the fencing of fence.go) or that is gone for good.
func (n *Node) dropClaims(id string, tomb bool) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ApplyTimeout)
	defer cancel()
	if _, err := n.apply(ctx, &command{Op: opDropNode, Node: id, Tomb: tomb}); err != nil {
		n.log.Warn("cluster: dropping the claims of a failed member", "member", id, "err", err)
	}
}

// verifyMember reports whether a member the gossip announced may become a
// voter. With TLS, the gossip alone does not admit a node: the leader asks
// the member's cluster address for its status over mutual TLS, which needs
// a certificate of the cluster's CA, and checks that the node there has
// the member's id. Without TLS, every member is admitted.
func (n *Node) verifyMember(id, addr string) bool {
	if n.cfg.TLS == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	s, err := fetchStatus(ctx, n.client, "https://", addr)
	if err == nil && s.NodeID != id {
		err = fmt.Errorf("the node at %s is %q", addr, s.NodeID)
	}
	if err != nil {
		n.mu.Lock()
		first := n.refused[id] != addr
		n.refused[id] = addr
		n.mu.Unlock()
		if first {
			n.log.Warn("cluster: not adding a member as voter: its cluster port fails mutual TLS", "member", id, "address", addr, "err", err)
		}
		return false
	}
	n.mu.Lock()
	delete(n.refused, id)
	n.mu.Unlock()
	return true
}
