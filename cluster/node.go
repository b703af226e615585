package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Errors the Node's methods return.
var (
	// ErrUnavailable is returned (wrapped) when a command could not be
	// agreed on in time: no leader is known or reachable, as on the
	// minority side of a partition.
	ErrUnavailable = errors.New("cluster: no leader reachable")
	// ErrClosed is returned by a Node's methods after Close.
	ErrClosed = errors.New("cluster: node closed")
	// ErrTooLarge is returned for a command (a retained message) larger
	// than MaxCommandSize.
	ErrTooLarge = errors.New("cluster: command too large")
)

// MaxCommandSize bounds an encoded command: a retained message with a
// larger payload is not replicated.
const MaxCommandSize = 16 << 20

// Node is a member of a cluster. Its methods are safe for concurrent use.
type Node struct {
	cfg         Config
	log         *slog.Logger
	incarnation uint32    // random, non-zero: the top half of this life's claim tokens
	started     time.Time // when Start was called
	advertise   string    // cluster address the other nodes dial
	local       net.Addr  // the source address of the node's cluster connections; nil for any
	gossip      string    // gossip address memberlist advertises

	mux      *mux
	httpSrv  *http.Server
	client   *http.Client // forwards commands to the leader
	fsm      *fsm
	raft     *raft.Raft
	trans    *raft.NetworkTransport
	store    *raftboltdb.BoltStore
	ml       *memberlist.Memberlist
	hasState atomic.Bool   // raft has a log or snapshot: advertised in the metadata
	claims   atomic.Uint32 // claim counter, the bottom half of tokens
	poke     chan struct{} // wakes the reconciler; buffered, 1
	waiters  waiters       // Replicate calls waiting for their answer (apply.go)

	leaderSlack time.Duration // how long a leader may lead after losing its majority (fence.go)
	contactMu   sync.Mutex    // guards contact
	contact     time.Time     // last contact with a majority, monotonic; zero for never

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the node's goroutines

	peersMu sync.Mutex       // guards peers
	peers   map[string]*peer // outgoing forwarding streams, by node id
	// fwdSeq numbers the frames of this life on every stream (forward.go);
	// dupFrames counts the frames received twice and dropped (acks.go).
	fwdSeq, dupFrames atomic.Uint64

	routes *routeTable // every node's routes and the route streams (routes.go); its own lock

	sessions atomic.Pointer[SessionMover] // serves session migration (session.go); nil until HandleSessions

	mu      sync.Mutex             // guards members, failed, refused, closed
	members map[string]*memberInfo // every member memberlist told of, by node id
	failed  map[string]time.Time   // leader only: since when each voter is not alive
	refused map[string]string      // leader only: members refused as voters (verifyMember), with their address
	closed  bool
}

// memberInfo is what the node knows of a member.
type memberInfo struct {
	gossip string // HOST:PORT
	meta   meta   // as last advertised; meta.Addr is the cluster address
	state  memberlist.NodeStateType
}

// Start starts a node: it listens on the cluster and gossip addresses,
// opens (or creates) the data directory, and joins the seeds and
// bootstraps in the background. It returns once the node listens; Status
// tells when it has a leader. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data directory: %w", err)
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.NodeID),
		poke:    make(chan struct{}, 1),
		started: time.Now(),
		members: make(map[string]*memberInfo),
		peers:   make(map[string]*peer),
		routes:  newRouteTable(),
		failed:  make(map[string]time.Time),
		refused: make(map[string]string),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
			TLSClientConfig: cfg.TLS}},
	}
	var b [4]byte
	for n.incarnation == 0 {
		rand.Read(b[:])
		n.incarnation = binary.BigEndian.Uint32(b[:])
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.start(ctx); err != nil {
		n.cancel()
		n.release()
		return nil, err
	}
	return n, nil
}

// start opens everything; on error, release closes what was opened.
func (n *Node) start(ctx context.Context) error {
	cfg := n.cfg
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cluster: listen: %w", err)
	}
	if cfg.TLS != nil {
		// The handshake runs when the mux reads the first byte.
		ln = tls.NewListener(ln, cfg.TLS)
	}
	n.mux = newMux(ln, n.log)
	if cfg.Advertise != "" {
		n.advertise = cfg.Advertise
	} else if n.advertise, err = advertiseAddr(cfg.Listen, ln.Addr()); err != nil {
		return err
	}
	n.local = sourceAddr(cfg.Listen)
	n.client.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: n.local, Timeout: 10 * time.Second}).DialContext

	n.fsm = newFSM(cfg.OnChange, cfg.OnRestore)
	if len(cfg.Replicated) > 0 {
		n.fsm.initReplicated(cfg.NodeID, cfg.Replicated, n.log, n.waiters.deliver) // apply.go
	}
	n.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
	if err != nil {
		return fmt.Errorf("cluster: raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.DataDir, "snapshots"), 3, hcLogger(n.log, "raft"))
	if err != nil {
		return fmt.Errorf("cluster: raft snapshots: %w", err)
	}
	has, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return fmt.Errorf("cluster: raft state: %w", err)
	}
	n.hasState.Store(has)
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &raftStream{chanListener: n.mux.raft, advertise: tcpAddr(n.advertise), tls: cfg.TLS, local: n.local},
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hcLogger(n.log, "raft"),
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hcLogger(n.log, "raft")
	if cfg.tune != nil {
		cfg.tune(rc)
	}
	n.leaderSlack = 2 * rc.LeaderLeaseTimeout
	if n.raft, err = raft.NewRaft(rc, n.fsm, n.store, n.store, snaps, n.trans); err != nil {
		return fmt.Errorf("cluster: raft: %w", err)
	}

	n.httpSrv = &http.Server{Handler: n.handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: stdLogger(n.log, "cluster: http")}

	if n.ml, err = n.startMemberlist(); err != nil {
		return err
	}
	// memberlist's LocalNode and Members return pointers to what its
	// goroutines change: the node reads members through the event
	// delegate only.
	n.gossip = n.ml.LocalNode().Address()
	n.mux.wg.Add(1)
	go n.mux.serve()
	n.wg.Add(6)
	go n.contactLoop()
	go func() { defer n.wg.Done(); n.httpSrv.Serve(n.mux.http) }()
	go n.serveForward(n.mux.fwd)
	n.wg.Add(1)
	go n.serveRoutes(n.mux.rts)
	go n.joinLoop()
	go n.reconcileLoop()
	go n.ownClaimsLoop()
	if len(cfg.Replicated) > 0 {
		n.wg.Add(1)
		go n.seedLoop() // apply.go
	}
	if !has && cfg.BootstrapExpect > 0 {
		n.wg.Add(1)
		go n.bootstrapLoop()
	}
	n.log.Info("cluster: node started", "cluster", cfg.Name, "address", n.advertise,
		"gossip", n.gossip, "existing_state", has)
	return nil
}

// advertiseAddr returns the address to tell the other nodes for the
// cluster listener bound to bound (configured as listen).
func advertiseAddr(listen string, bound net.Addr) (string, error) {
	host, _, _ := net.SplitHostPort(listen)
	port := strconv.Itoa(bound.(*net.TCPAddr).Port)
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return net.JoinHostPort(host, port), nil
	}
	ip, err := sockaddr.GetPrivateIP()
	if err != nil || ip == "" {
		return "", fmt.Errorf("cluster: cluster_listen %s: no private IP address to advertise; give one", listen)
	}
	return net.JoinHostPort(ip, port), nil
}

// tcpAddr resolves a HOST:PORT without a lookup when HOST is an IP.
func tcpAddr(a string) net.Addr {
	if ta, err := net.ResolveTCPAddr("tcp", a); err == nil {
		return ta
	}
	return &net.TCPAddr{}
}

// ID returns the node's identifier.
func (n *Node) ID() string { return n.cfg.NodeID }

// Addr returns the node's cluster address, as the other nodes dial it.
func (n *Node) Addr() string { return n.advertise }

// GossipAddr returns the address memberlist advertises.
func (n *Node) GossipAddr() string { return n.gossip }

// Close leaves the gossip gracefully and stops the node. The node stays a
// raft voter (see the package documentation): when it starts again with
// its data directory it is the member it was.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	if n.ml != nil {
		if err := n.ml.Leave(5 * time.Second); err != nil {
			n.log.Warn("cluster: leaving the gossip", "err", err)
		}
	}
	n.cancel()
	n.stopPeers()
	n.stopRoutes()
	return n.release()
}

// release stops and closes what start opened.
func (n *Node) release() error {
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.ml != nil {
		errs = append(errs, n.ml.Shutdown())
	}
	if n.httpSrv != nil {
		n.httpSrv.Close()
	}
	if n.mux != nil {
		n.mux.close()
	}
	if n.trans != nil {
		errs = append(errs, n.trans.Close())
	}
	n.wg.Wait()
	if n.mux != nil {
		n.mux.wg.Wait()
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	n.client.CloseIdleConnections()
	return errors.Join(errs...)
}

// wake pokes the reconciler.
func (n *Node) wake() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// sleep waits d or until the node closes, and reports whether it did not
// close.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

// ownClaimsLoop drops, once a leader is there, the claims this node made
// in an earlier life: its connections died with it.
func (n *Node) ownClaimsLoop() {
	defer n.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ApplyTimeout)
		_, err := n.apply(ctx, &command{Op: opDropNode, Node: n.cfg.NodeID, Keep: n.incarnation})
		cancel()
		if err == nil || n.ctx.Err() != nil {
			return
		}
		if !n.sleep(time.Second) {
			return
		}
	}
}
