package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Config configures a Node. The zero value is not usable: Name, Listen,
// Gossip and DataDir are required, and BootstrapExpect or Join.
type Config struct {
	// Name is the cluster's name (cluster_name). Nodes with different names
	// never join each other.
	Name string
	// NodeID is this node's unique and stable identifier (cluster_node_id).
	// If empty, the host name.
	NodeID string
	// Listen is the HOST:PORT of the node-to-node TCP port (cluster_listen):
	// raft, the node API and, later, message forwarding. When HOST is
	// unspecified (0.0.0.0, ::, empty) the other nodes are told memberlist's
	// advertised IP address with this port.
	Listen string
	// Gossip is the HOST:PORT memberlist listens on, TCP and UDP
	// (cluster_gossip).
	Gossip string
	// Advertise, if set, is the HOST:PORT the other nodes dial for this
	// node's cluster port (cluster_advertise), instead of the one derived
	// from Listen: for a node behind NAT, a container's port mapping or a
	// proxy.
	Advertise string
	// GossipAdvertise, if set, is the IP:PORT the other nodes send this
	// node's gossip to, TCP and UDP (cluster_gossip_advertise):
	// memberlist's AdvertiseAddr and AdvertisePort.
	GossipAdvertise string
	// Join are the gossip addresses of existing nodes (cluster_join). They
	// are tried, with the members known before a restart, until one answers.
	Join []string
	// BootstrapExpect is the number of nodes a new cluster waits for before
	// electing its first leader (cluster_bootstrap_expect). Zero: this node
	// never bootstraps a cluster; it joins an existing one.
	BootstrapExpect int
	// DataDir holds raft's log (raft.db), its snapshots and the list of
	// known members (cluster_data_dir). Created if missing.
	DataDir string

	// ReapTimeout is how long a voter may stay failed (or unknown to
	// memberlist) before the leader removes it from raft. If zero, 72h.
	ReapTimeout time.Duration
	// ApplyTimeout bounds one command's trip through raft when the
	// caller's context has no earlier deadline. If zero, 10s.
	ApplyTimeout time.Duration

	// TLS, if set, makes every connection of the cluster port (raft,
	// forwarding, the node API) mutual TLS: see TLSConfig, which makes it.
	// Nil: plain TCP.
	TLS *tls.Config

	// GossipKey, if set, encrypts and authenticates the gossip
	// (cluster_gossip_key): memberlist's SecretKey, AES with a 16, 24 or
	// 32-byte key. A node without the key cannot join, nor read the
	// gossip. Every node needs the same key.
	GossipKey []byte

	// Logger receives the node's records ("cluster: ..."), and raft's and
	// memberlist's ("raft: ...", "memberlist: ...", at the level of their
	// lines). If nil, nothing is logged.
	Logger *slog.Logger
	// OnChange, if set, is called after each command is applied to the
	// state, on every node, in log order, from raft's apply goroutine: it
	// must return promptly and must not call the Node's methods that wait
	// for raft (Claim, Release, Retain). It is not called for a snapshot
	// restore, after which OnRestore is.
	OnChange func(Change)
	// OnRestore, if set, is called after the state was replaced from a
	// snapshot (on start-up, or when the leader sent one).
	OnRestore func()

	// Replicated are the broker's state machines the cluster keeps
	// identical on every node, by kind ("dynsec"): commands proposed with
	// Node.Replicate are applied on every node in raft's log order, and
	// their states are in raft's snapshots. A kind the cluster has no
	// state for yet is seeded by the leader with its own state (Snapshot):
	// in a new cluster the first leader's state becomes everyone's; a
	// node that joins an existing cluster gets the cluster's state. Every
	// node should configure the same kinds.
	Replicated map[string]Replicated

	// OnFrame, if set, receives each frame another node Broadcast or
	// Forward, with that node's id: in the order it was sent, once per
	// life of this node, from one goroutine per sending node. While it
	// runs, that node's stream waits (and its queue there fills): it should
	// not take long. The frame is acknowledged when it returns. The frame
	// is its own.
	OnFrame func(from string, frame []byte)
	// Deliver, if set, is used instead of OnFrame: it is called as OnFrame
	// is, and the frame is acknowledged once done has been called (from any
	// goroutine, at any time: the frames after it are acknowledged only
	// then), so a frame can be handed on at once and acknowledged when it
	// is durable. A frame whose done is never called holds back the
	// acknowledgement of every later frame of its sender, which keeps them
	// and sends them again to this node's next life: call it for every
	// frame, unless the node is stopping.
	Deliver func(from string, frame []byte, done func())
	// ForwardQueue bounds each peer's queue of frames. If zero, 10000.
	ForwardQueue int

	// tune, for tests, adjusts raft's configuration (snapshot thresholds).
	tune func(*raft.Config)
}

// defaultReapTimeout is Consul's reconnect_timeout.
const defaultReapTimeout = 72 * time.Hour

// withDefaults returns c with its defaults applied.
func (c Config) withDefaults() (Config, error) {
	if c.NodeID == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("cluster: no node id and no host name: %w", err)
		}
		c.NodeID = h
	}
	if c.ReapTimeout == 0 {
		c.ReapTimeout = defaultReapTimeout
	}
	if c.ForwardQueue == 0 {
		c.ForwardQueue = defaultForwardQueue
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Validate returns every problem of c, joined, or nil.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("cluster: no cluster name"))
	} else if len(c.Name) > 200 {
		errs = append(errs, errors.New("cluster: cluster name longer than 200 bytes"))
	}
	if len(c.NodeID) > 128 {
		errs = append(errs, errors.New("cluster: node id longer than 128 bytes"))
	}
	if err := checkHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("cluster: listen address: %w", err))
	}
	if err := checkHostPort(c.Gossip); err != nil {
		errs = append(errs, fmt.Errorf("cluster: gossip address: %w", err))
	}
	if c.Advertise != "" {
		if err := checkHostPort(c.Advertise); err != nil {
			errs = append(errs, fmt.Errorf("cluster: advertise address: %w", err))
		}
	}
	if c.GossipAdvertise != "" {
		if host, _, err := net.SplitHostPort(c.GossipAdvertise); err != nil || net.ParseIP(host) == nil {
			errs = append(errs, fmt.Errorf("cluster: gossip advertise address %q: want IP:PORT", c.GossipAdvertise))
		} else if err := checkHostPort(c.GossipAdvertise); err != nil {
			errs = append(errs, fmt.Errorf("cluster: gossip advertise address: %w", err))
		}
	}
	for _, j := range c.Join {
		if err := checkHostPort(j); err != nil {
			errs = append(errs, fmt.Errorf("cluster: join address: %w", err))
		}
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, errors.New("cluster: negative bootstrap_expect"))
	}
	if c.BootstrapExpect == 0 && len(c.Join) == 0 {
		errs = append(errs, errors.New("cluster: neither bootstrap_expect nor a join address: the node could never form or find a cluster"))
	}
	if k := len(c.GossipKey); k != 0 && k != 16 && k != 24 && k != 32 {
		errs = append(errs, fmt.Errorf("cluster: gossip key of %d bytes: want 16, 24 or 32", k))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("cluster: no data directory"))
	}
	if c.ReapTimeout < 0 || c.ApplyTimeout < 0 || c.ForwardQueue < 0 {
		errs = append(errs, errors.New("cluster: negative timeout"))
	}
	return errors.Join(errs...)
}

// checkHostPort checks a HOST:PORT address with a numeric port. The port
// may be 0 (any free port) for Listen and Gossip.
func checkHostPort(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("address %q: invalid port %q", a, port)
	}
	return nil
}
