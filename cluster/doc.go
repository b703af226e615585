// Package cluster makes several midge brokers one: membership and failure
// detection with hashicorp/memberlist, agreement with hashicorp/raft.
//
// A Node is one member. It listens on two addresses:
//
//   - Config.Listen (cluster_listen), one TCP port for everything between
//     nodes. The first byte of a connection says what it carries: 0x01 is
//     raft (hashicorp/raft's network transport follows), an ASCII capital
//     letter is HTTP/1.1 (the first letter of GET or POST), served by the
//     node's small HTTP API: GET /v1/status (what "midge cluster status"
//     prints), GET /v1/fence (for AwaitTakeover, below) and POST /v1/apply,
//     by which a follower hands a command to the leader. 0x02 is a
//     forwarding stream (Broadcast, Send, Forward, ForwardTo,
//     Config.Deliver): one per pair of live nodes, with a bounded queue of
//     unacknowledged frames. Other bytes close the
//     connection. With Config.TLS (TLSConfig) every connection is mutual
//     TLS first, and the first byte is the first byte inside it: a node
//     without a certificate of the cluster's CA cannot talk to it, and the
//     leader makes a member a voter only once its cluster port passed
//     mutual TLS with the member's id.
//   - Config.Gossip (cluster_gossip), memberlist's TCP and UDP port. Gossip
//     packets carry the cluster name as memberlist's label, and a node whose
//     metadata names another cluster is refused by the alive and merge
//     delegates: nodes of different clusters never join each other. With
//     Config.GossipKey the gossip is encrypted and authenticated
//     (memberlist's SecretKey): a node without the key cannot join.
//
// Config.Advertise and Config.GossipAdvertise (cluster_advertise,
// cluster_gossip_advertise) are told to the other nodes instead, for NAT,
// containers and proxies. A node dials the others from the IP address it
// listens on, when it names one.
//
// # Formation
//
// A node joins the gossip of the seeds (Config.Join, and the members it knew
// before a restart, kept in the data directory), retrying until one answers.
// A fresh cluster is bootstrapped, as Consul bootstraps one, when
// BootstrapExpect nodes of the cluster see each other and none of them has
// raft state: each of them bootstraps raft with the same configuration, the
// BootstrapExpect nodes with the smallest identifiers. From then on the
// leader reconciles raft's voters with memberlist: it adds every live member
// as a voter, and removes one that has been failed or absent for
// ReapTimeout (72 hours by default, Consul's reconnect_timeout), so a node
// that restarts with its data directory, after a crash or maintenance,
// comes back as the voter it was. A node that leaves gracefully (Close)
// stays a voter too: removing a node for good is the operator's act
// (docs/cluster.md).
//
// # Replicated state
//
// The raft state machine (FSM) holds what must be agreed: which node owns
// each client identifier (Claim, Release), and the retained messages
// (Retain). Commands go through the leader; a follower forwards them over
// the cluster port. Reads (Owner, RetainedMessage, RetainedMessages) are
// local and may lag the leader by the replication delay. midge broker
// claims each client identifier on CONNECT and stores the agreed retained
// messages on every node (docs/cluster.md). Config.Replicated adds state
// machines of the broker's (dynamic security): Replicate has every node
// apply an opaque command in log order and returns this node's answer; the
// first leader seeds each one with its own state. The state is snapshotted to files in
// the data directory; raft's log and stable store are a bbolt file there.
//
// # Fencing
//
// A node that has been out of contact with a majority for FenceLease is
// Fenced: its user must close the connections of the client identifiers it
// claimed and admit none (midge broker does). A claim that takes an
// identifier from another node is followed by AwaitTakeover, which returns
// once that node applied the claim, or has surely fenced itself; with
// both, an identifier is never connected on two nodes at once, across a
// partition too, comparing only durations on each node's own clock
// (docs/cluster.md states the timing assumptions).
//
// # Forwarding
//
// Broadcast and Forward queue an opaque frame (the broker integration
// encodes a message in it) for every other live node, and Config.Deliver
// (or OnFrame) receives the frames of the others, in order per sending
// node. Frames are acknowledged: the receiver acknowledges a frame once
// Deliver called its done (the broker: once the message is durable in its
// persistent sessions), the sender keeps it until then and sends it again
// after a broken stream, and the receiver drops a frame it already handed
// on in that life of the sender. Broadcast drops a frame for a peer whose
// queue is full; Forward waits for room, and its Pending waits for the
// acknowledgements, or for memberlist to declare the peer dead
// (docs/cluster.md).
//
// A Node's methods are safe for concurrent use.
package cluster
