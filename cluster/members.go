package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/midge-mqtt/midge/internal/atomicfile"
)

// meta is a node's memberlist metadata (at most memberlist.MetaMaxSize
// bytes, JSON).
type meta struct {
	Cluster string `json:"c"`           // cluster name
	Addr    string `json:"a"`           // cluster address
	State   bool   `json:"s,omitempty"` // raft has state: no bootstrap with this node
}

// membersFile keeps the gossip addresses of the members known, to rejoin
// after a restart even when the seeds have changed.
const membersFile = "members.json"

// startMemberlist creates the node's memberlist.
func (n *Node) startMemberlist() (*memberlist.Memberlist, error) {
	host, port, err := net.SplitHostPort(n.cfg.Gossip)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip address: %w", err)
	}
	c := memberlist.DefaultLANConfig()
	c.Name = n.cfg.NodeID
	if host == "" {
		host = "0.0.0.0"
	}
	c.BindAddr = host
	c.BindPort, _ = strconv.Atoi(port)
	c.Logger = stdLogger(n.log, "") // its lines name it
	bindPort := c.BindPort
	if c.Transport, c.BindPort, err = gossipTransport(host, c.BindPort, c); err != nil {
		return nil, fmt.Errorf("cluster: gossip: %w", err)
	}
	if adv := n.cfg.GossipAdvertise; adv != "" {
		ah, ap, _ := net.SplitHostPort(adv) // checked by Validate
		c.AdvertiseAddr = ah
		c.AdvertisePort, _ = strconv.Atoi(ap)
	} else if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && bindPort != 0 {
		// With port 0 memberlist advertises the port it bound, with the
		// bind address when that is an IP.
		c.AdvertiseAddr, c.AdvertisePort = host, c.BindPort
	}
	c.Label = n.cfg.Name
	if len(n.cfg.GossipKey) > 0 {
		// AES-GCM on every gossip packet and stream; memberlist drops
		// what is not encrypted with the key (GossipVerifyIncoming).
		c.SecretKey = n.cfg.GossipKey
	}
	d := &delegate{n: n}
	c.Delegate, c.Events, c.Alive, c.Merge = d, d, d, d
	ml, err := memberlist.Create(c)
	if err != nil {
		c.Transport.Shutdown()
		return nil, fmt.Errorf("cluster: gossip: %w", err)
	}
	return ml, nil
}

// delegate is the node's memberlist delegate: metadata, the cluster name
// check, and membership events.
type delegate struct{ n *Node }

// NodeMeta returns the node's metadata.
func (d *delegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(meta{Cluster: d.n.cfg.Name, Addr: d.n.advertise, State: d.n.hasState.Load()})
	if len(b) > limit {
		d.n.log.Error("cluster: node metadata too large for memberlist", "size", len(b), "limit", limit)
		return nil
	}
	return b
}

// NotifyMsg ignores user messages: the node sends none.
func (d *delegate) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to broadcast.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState has no state to exchange beyond memberlist's own.
func (d *delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores remote state.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// check refuses a node of another cluster (or not a midge node).
func (d *delegate) check(peer *memberlist.Node) error {
	if peer.Name == d.n.cfg.NodeID {
		return nil
	}
	var m meta
	if err := json.Unmarshal(peer.Meta, &m); err != nil {
		return fmt.Errorf("cluster: node %q at %s is not a midge node", peer.Name, peer.Address())
	}
	if m.Cluster != d.n.cfg.Name {
		return fmt.Errorf("cluster: node %q at %s belongs to cluster %q, not %q", peer.Name, peer.Address(), m.Cluster, d.n.cfg.Name)
	}
	return nil
}

// NotifyAlive refuses a node of another cluster.
func (d *delegate) NotifyAlive(peer *memberlist.Node) error { return d.check(peer) }

// NotifyMerge refuses to merge with the members of another cluster.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if err := d.check(p); err != nil {
			return err
		}
	}
	return nil
}

// The events tell the member's state: memberlist passes a Node whose
// State field it does not keep up to date (its nodeState's own State
// shadows it).

// NotifyJoin records a member alive.
func (d *delegate) NotifyJoin(node *memberlist.Node) { d.n.noteMember(node, memberlist.StateAlive) }

// NotifyLeave records a member's death or departure; memberlist does not
// say which, so both are "dead".
func (d *delegate) NotifyLeave(node *memberlist.Node) { d.n.noteMember(node, memberlist.StateDead) }

// NotifyUpdate records a member's new metadata (it is alive).
func (d *delegate) NotifyUpdate(node *memberlist.Node) { d.n.noteMember(node, memberlist.StateAlive) }

// noteMember records what memberlist says of node and wakes the
// reconciler. memberlist calls it with its lock held: node may be read
// here only.
func (n *Node) noteMember(node *memberlist.Node, state memberlist.NodeStateType) {
	var m meta
	if json.Unmarshal(node.Meta, &m) != nil || m.Cluster != n.cfg.Name {
		return // refused by check
	}
	n.mu.Lock()
	mi := n.members[node.Name]
	if mi == nil {
		mi = &memberInfo{state: memberlist.StateDead} // logged alive below
		n.members[node.Name] = mi
	}
	was := mi.state
	mi.gossip, mi.state, mi.meta = node.Address(), state, m
	n.mu.Unlock()
	if node.Name != n.cfg.NodeID && state != was {
		switch state {
		case memberlist.StateDead:
			n.log.Warn("cluster: member failed or left", "member", node.Name, "gossip", node.Address())
		case memberlist.StateAlive:
			n.log.Info("cluster: member alive", "member", node.Name, "gossip", node.Address())
		}
	}
	n.wake()
}

// alive returns the live members (self included) and their metadata.
func (n *Node) alive() map[string]meta {
	out := make(map[string]meta)
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, mi := range n.members {
		if mi.state == memberlist.StateAlive && mi.meta.Addr != "" {
			out[id] = mi.meta
		}
	}
	return out
}

// joinLoop joins the seeds and the members known before, retrying until
// one answers, and then keeps trying those of them that are not alive
// (a restarted seed, the other side of a healed partition) every 10s.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	delay, joined := 500*time.Millisecond, false
	for {
		targets := n.joinTargets()
		if len(targets) > 0 {
			k, err := n.ml.Join(targets)
			switch {
			case k > 0 && !joined:
				n.log.Info("cluster: joined the gossip", "contacted", k)
				joined = true
			case k == 0 && err != nil && !joined:
				n.log.Warn("cluster: no seed answers yet; retrying", "seeds", targets, "err", err)
			}
		}
		n.saveMembers()
		if !joined {
			delay = min(2*delay, 5*time.Second)
		} else {
			delay = 10 * time.Second
		}
		if !n.sleep(delay) {
			return
		}
	}
}

// joinTargets returns the addresses to join: the seeds and the remembered
// members that memberlist does not know alive, without the node itself.
func (n *Node) joinTargets() []string {
	self := n.gossip
	live := make(map[string]bool)
	n.mu.Lock()
	for _, mi := range n.members {
		if mi.state == memberlist.StateAlive {
			live[mi.gossip] = true
		}
	}
	n.mu.Unlock()
	var out []string
	add := func(a string) {
		if a != self && a != n.cfg.Gossip && !live[a] && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range n.cfg.Join {
		add(a)
	}
	for _, a := range n.loadMembers() {
		add(a)
	}
	return out
}

// loadMembers returns the gossip addresses saved in the data directory.
func (n *Node) loadMembers() []string {
	b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, membersFile))
	if err != nil {
		return nil
	}
	var m map[string]string
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var out []string
	for id, a := range m {
		if id != n.cfg.NodeID {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// saveMembers writes the gossip addresses of the members that are raft
// servers, if they changed.
func (n *Node) saveMembers() {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	m := make(map[string]string)
	n.mu.Lock()
	for _, s := range f.Configuration().Servers {
		if mi := n.members[string(s.ID)]; mi != nil && mi.gossip != "" {
			m[string(s.ID)] = mi.gossip
		}
	}
	n.mu.Unlock()
	if len(m) == 0 {
		return
	}
	b, _ := json.Marshal(m)
	path := filepath.Join(n.cfg.DataDir, membersFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return
	}
	if err := atomicfile.Write(path, b, membersFile+".*"); err != nil {
		n.log.Warn("cluster: saving the known members", "err", err)
	}
}

// bootstrapLoop bootstraps raft once BootstrapExpect nodes of the cluster
// are alive and none of them has raft state, as Consul does. Every node in
// that situation bootstraps with the same configuration: the
// BootstrapExpect live nodes with the smallest identifiers. A node not
// among them waits for the leader to add it.
func (n *Node) bootstrapLoop() {
	defer n.wg.Done()
	for n.sleep(200 * time.Millisecond) {
		if n.hasState.Load() || n.raft.LastIndex() > 0 {
			n.setHasState()
			return
		}
		alive := n.alive()
		if n.cfg.TLS != nil {
			// Only members whose cluster port passes mutual TLS count:
			// one without the CA's certificate must neither be made a
			// voter nor keep the others from bootstrapping.
			for id, m := range alive {
				if id != n.cfg.NodeID && !n.verifyMember(id, m.Addr) {
					delete(alive, id)
				}
			}
		}
		if len(alive) < n.cfg.BootstrapExpect {
			continue
		}
		ids := make([]string, 0, len(alive))
		other := false
		for id, m := range alive {
			ids = append(ids, id)
			other = other || (m.State && id != n.cfg.NodeID)
		}
		if other {
			n.log.Info("cluster: a member already has raft state; waiting to be added, not bootstrapping")
			return
		}
		slices.Sort(ids)
		ids = ids[:n.cfg.BootstrapExpect]
		if !slices.Contains(ids, n.cfg.NodeID) {
			n.log.Info("cluster: not among the bootstrap nodes; waiting to be added", "bootstrap", ids)
			return
		}
		var conf raft.Configuration
		for _, id := range ids {
			conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(alive[id].Addr)})
		}
		err := n.raft.BootstrapCluster(conf).Error()
		if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			n.log.Error("cluster: bootstrap", "err", err)
			continue
		}
		n.log.Info("cluster: bootstrapped", "voters", ids)
		n.setHasState()
		return
	}
}

// setHasState advertises that the node has raft state.
func (n *Node) setHasState() {
	if n.hasState.Swap(true) {
		return
	}
	if err := n.ml.UpdateNode(5 * time.Second); err != nil {
		n.log.Warn("cluster: updating the node's metadata", "err", err)
	}
}
