package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/pubcodec"
	"github.com/midge-mqtt/midge/packet"
)

// The broker's hooks into the cluster: client identifiers are claimed
// through raft on CONNECT (Config.Admit) and released when the connection
// ends (Config.OnDisconnect); a node whose client another node claimed
// closes its connection (DISCONNECT 0x8E); retained messages are agreed
// through raft and stored on every node from the agreed state
// (Server.SetRetained), while forwarding delivers them (Server.Route).

// claimTimeout bounds the claim of a CONNECT: a node that cannot reach a
// majority in that time refuses the client (CONNACK 0x88).
const claimTimeout = 5 * time.Second

// takeoverTimeout bounds the wait of a CONNECT that takes its client id
// over from another node (cluster.AwaitTakeover): that node's lease and
// margin (7 s) and more.
const takeoverTimeout = 20 * time.Second

// retainQueue bounds the retained messages waiting for raft on one node.
const retainQueue = 10000

// localClaim is the claim of a connection admitted on this node.
type localClaim struct {
	client *broker.Client // the connection's, as Admit saw it
	claim  cluster.Claim
}

// clusterHooks holds what the hooks share.
type clusterHooks struct {
	node *cluster.Node
	log  func(msg string)      // logs a warning
	srv  func() *broker.Server // nil until the server runs

	mu     sync.Mutex            // guards claims, superseded, dirty, all, closed, fenced
	claims map[string]localClaim // by client identifier
	// superseded are this node's claims another node's claim replaced
	// before the connection that made them was admitted, with when.
	superseded map[uint64]time.Time
	dirty      map[string]bool // topics whose retained message to sync
	all        bool            // sync every retained message
	closed     bool            // close was called: no more releases
	fenced     bool            // fenced as fenceLoop last saw it (cluster_fence.go)
	wake       chan struct{}   // wakes syncLoop; buffered, 1

	retain   chan *broker.Message // retained messages for raft, in order
	ctx      context.Context      // cancelled by close: the loops stop
	cancel   context.CancelFunc
	loops    sync.WaitGroup // syncLoop and retainLoop
	releases sync.WaitGroup // Release calls under way
	dropped  atomic.Uint64  // retained messages the queue had no room for
}

func newClusterHooks(warn func(string), srv func() *broker.Server) *clusterHooks {
	h := &clusterHooks{log: warn, srv: srv, claims: make(map[string]localClaim), dirty: make(map[string]bool),
		superseded: make(map[uint64]time.Time), fenced: true,
		wake: make(chan struct{}, 1), retain: make(chan *broker.Message, retainQueue)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// admit claims c's client identifier for this node (Config.Admit), and
// waits, when the claim takes the identifier over from another node, until
// that node's connection is surely closed (cluster.AwaitTakeover). The
// error refuses the client: the node is fenced (cluster_fence.go), or the
// cluster could not agree in time.
func (h *clusterHooks) admit(ctx context.Context, c *broker.Client) error {
	if d := h.node.OutOfContact(); d >= cluster.FenceLease && d != math.MaxInt64 {
		// Lost contact: refused at once. (A node that was never in contact,
		// just started, tries: the first leader may be a moment away.)
		return errors.New("cluster unavailable: no contact with a majority")
	}
	cctx, cancel := context.WithTimeout(ctx, claimTimeout)
	cl, err := h.node.Claim(cctx, c.ID)
	cancel()
	if err != nil {
		return fmt.Errorf("cluster unavailable: %w", err)
	}
	tctx, cancel := context.WithTimeout(ctx, takeoverTimeout)
	err = h.node.AwaitTakeover(tctx, cl)
	cancel()
	if err == nil {
		h.migrateIn(ctx, c.ID, cl) // cluster_migrate.go
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.superseded[cl.Token]; ok {
		// Another node claimed the id between the leader's answer and now.
		delete(h.superseded, cl.Token)
		return errors.New("cluster: client id claimed by another node meanwhile")
	}
	if err == nil && h.node.Fenced() {
		// Lost meanwhile: fenceLoop may have closed the others already.
		err = errors.New("no contact with a majority")
	}
	if err != nil {
		h.release(c.ID, cl)
		return fmt.Errorf("cluster unavailable: %w", err)
	}
	h.claims[c.ID] = localClaim{client: c, claim: cl}
	return nil
}

// disconnected releases the claim of a connection that ended
// (Config.OnDisconnect), unless a connection on this node or another
// node's claim took the client identifier over, or its persistent session
// stays here offline (the claim then tells other nodes where it is).
func (h *clusterHooks) disconnected(c *broker.Client, takenOver bool) {
	kept := !takenOver && h.keepsSession(c.ID) // cluster_migrate.go
	h.mu.Lock()
	defer h.mu.Unlock()
	lc, ok := h.claims[c.ID]
	if ok && lc.client == c && !takenOver {
		delete(h.claims, c.ID)
		if !kept {
			h.release(c.ID, lc.claim)
		} // else the claim says where the offline session is
	}
}

// release gives up claim cl of client id in the background, unless close
// was called. h.mu must be held.
func (h *clusterHooks) release(id string, cl cluster.Claim) {
	if h.closed {
		return
	}
	h.releases.Add(1) // under h.mu: never once close waits
	go func() {
		defer h.releases.Done()
		ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
		defer cancel()
		if err := h.node.Release(ctx, cl); err != nil && !errors.Is(err, cluster.ErrClosed) {
			// Harmless: the next claim of the identifier replaces it.
			h.log(fmt.Sprintf("Warning: cluster: releasing client id %q: %v", id, err))
		}
	}()
}

// onChange follows the replicated state (cluster.Config.OnChange, on
// raft's apply goroutine): when another node claimed a client connected
// here with the claim it took over, the connection closes with 0x8E
// (session taken over) [MQTT-3.1.4-3]; a retained message that changed is
// synced.
func (h *clusterHooks) onChange(ch cluster.Change) {
	switch ch.Kind {
	case cluster.OwnerChanged:
		srv := h.srv() // nil while raft replays its log at start-up: no connection yet
		if srv == nil || ch.Previous != h.node.ID() || ch.Owner == h.node.ID() {
			return
		}
		h.mu.Lock()
		lc, ok := h.claims[ch.ClientID]
		ours := ok && lc.claim.Token == ch.PreviousToken
		if ours && ch.Owner != "" {
			delete(h.claims, ch.ClientID) // its claim is gone: nothing to release
		} else if ours {
			// The leader dropped the claim (it held this node failed): the
			// identifier's next claim, which takes it from the tombstone,
			// closes the connection.
		} else if ch.Owner != "" {
			// A claim whose connection admit has not recorded yet, if any.
			// (A connection between admit and its attachment still
			// escapes the kick: a window of microseconds.)
			h.supersede(ch.PreviousToken)
		}
		h.mu.Unlock()
		if ours && ch.Owner != "" {
			srv.DisconnectWith(ch.ClientID, packet.SessionTakenOver)
		}
	case cluster.RetainedChanged:
		h.markDirty(ch.Retained.Topic)
	}
}

// supersede records that claim token was replaced. Entries older than a
// minute, long past any admit's claim, are dropped. h.mu must be held.
func (h *clusterHooks) supersede(token uint64) {
	now := time.Now()
	if len(h.superseded) >= 1000 {
		for tok, at := range h.superseded {
			if now.Sub(at) > time.Minute {
				delete(h.superseded, tok)
			}
		}
	}
	h.superseded[token] = now
}

// markDirty has syncLoop sync topic ("" for every topic).
func (h *clusterHooks) markDirty(topic string) {
	h.mu.Lock()
	if topic == "" {
		h.all = true
	} else {
		h.dirty[topic] = true
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// observe hands a retained message published on this node to retainLoop.
// It runs on the publishing goroutine: it never blocks.
func (h *clusterHooks) observe(m *broker.Message) {
	select {
	case h.retain <- m:
	default:
		if n := h.dropped.Add(1); n&(n-1) == 0 { // 1, 2, 4, ...: no flood of warnings
			h.log(fmt.Sprintf("Warning: cluster: too many retained messages waiting for agreement; %q withdrawn (%d so far)", m.Topic, n))
		}
		h.markDirty(m.Topic) // back to the agreed one
	}
}

// start starts the loops once srv runs: everything is synced first, since
// raft may have applied changes before.
func (h *clusterHooks) start(srv *broker.Server) {
	h.loops.Add(3)
	go h.syncLoop(srv)
	go h.retainLoop()
	go h.fenceLoop(srv)
	h.markDirty("")
}

// close stops the loops and waits for the releases under way.
func (h *clusterHooks) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.loops.Wait()
	h.releases.Wait()
}

// retainLoop has raft agree on the retained messages published here, in
// publishing order, in batches of what waits (one raft command each). Those
// the cluster cannot agree on (no majority, too large) are replaced on this
// node by the agreed ones.
func (h *clusterHooks) retainLoop() {
	defer h.loops.Done()
	for {
		var batch []cluster.Retained
		size := 0
		add := func(m *broker.Message) {
			r := cluster.Retained{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Properties: encodeProps(m.Properties),
				Expiry: m.Expiry, Publisher: m.Publisher}
			batch = append(batch, r)
			size += len(r.Topic) + len(r.Payload) + len(r.Properties) + 100
		}
		select {
		case <-h.ctx.Done():
			return
		case m := <-h.retain:
			add(m)
		}
	more:
		for len(batch) < maxRetainBatch && size < maxRetainBatchBytes {
			select {
			case m := <-h.retain:
				add(m)
			default:
				break more
			}
		}
		if err := h.node.Retain(h.ctx, batch...); err != nil && !errors.Is(err, cluster.ErrClosed) {
			h.log(fmt.Sprintf("Warning: cluster: %d retained messages (on %q first) not agreed, withdrawn: %v", len(batch), batch[0].Topic, err))
			for _, r := range batch {
				h.markDirty(r.Topic)
			}
		}
	}
}

// A batch of retained messages holds at most maxRetainBatch messages and
// about maxRetainBatchBytes, well below cluster.MaxCommandSize with the
// JSON encoding's base64 (a larger single message goes alone).
const (
	maxRetainBatch      = 1000
	maxRetainBatchBytes = 4 << 20
)

// syncLoop makes the server's retained messages those of the replicated
// state, topic by topic as they change, or all of them.
func (h *clusterHooks) syncLoop(srv *broker.Server) {
	defer h.loops.Done()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
		}
		h.mu.Lock()
		all, dirty := h.all, h.dirty
		h.all, h.dirty = false, make(map[string]bool)
		h.mu.Unlock()
		if all {
			h.syncAll(srv)
			continue
		}
		for topic := range dirty {
			r, ok := h.node.RetainedMessage(topic)
			h.syncTopic(srv, topic, r, ok)
		}
	}
}

// syncAll syncs every retained message: those of the replicated state are
// set, and the server's others (but $SYS ones) deleted.
func (h *clusterHooks) syncAll(srv *broker.Server) {
	agreed := make(map[string]cluster.Retained)
	h.node.RetainedMessages(func(r cluster.Retained) bool { agreed[r.Topic] = r; return true })
	var stale []string
	srv.RetainedMessages("#", func(m *broker.Message) bool {
		if _, ok := agreed[m.Topic]; !ok {
			stale = append(stale, m.Topic)
		}
		return true
	})
	for _, topic := range stale {
		h.syncTopic(srv, topic, cluster.Retained{}, false)
	}
	for topic, r := range agreed {
		h.syncTopic(srv, topic, r, true)
	}
}

// syncTopic makes the server's retained message on topic r (none if !ok),
// unless it is that already.
func (h *clusterHooks) syncTopic(srv *broker.Server, topic string, r cluster.Retained, ok bool) {
	var cur *broker.Message
	srv.RetainedMessages(topic, func(m *broker.Message) bool {
		if m.Topic == topic {
			cur = m
		}
		return true
	})
	var m *broker.Message
	switch {
	case !ok && cur == nil:
		return
	case !ok:
		m = &broker.Message{Topic: topic}
	case cur != nil && bytes.Equal(cur.Payload, r.Payload) && cur.QoS == r.QoS && cur.Expiry.Equal(r.Expiry) &&
		bytes.Equal(encodeProps(cur.Properties), r.Properties):
		return
	default:
		m = &broker.Message{Topic: topic, Payload: r.Payload, QoS: r.QoS, Properties: decodeProps(r.Properties),
			Expiry: r.Expiry, Publisher: r.Publisher, Received: time.Now()}
	}
	if err := srv.SetRetained(m); err != nil {
		h.log(fmt.Sprintf("Warning: cluster: storing the retained message of %q: %v", topic, err))
	}
}

// encodeProps encodes a message's MQTT 5 properties for
// cluster.Retained.Properties: as those of a PUBLISH, nil for none.
func encodeProps(p *packet.Properties) []byte {
	if p == nil || p.Empty() {
		return nil
	}
	b, err := packet.Append(nil, &packet.Publish{Topic: "p", Properties: *p}, packet.Version5)
	if err != nil {
		return nil
	}
	return b
}

// decodeProps decodes what encodeProps encoded.
func decodeProps(b []byte) *packet.Properties {
	if len(b) == 0 {
		return nil
	}
	r := packet.NewReader(bytes.NewReader(b), 0)
	r.Version = packet.Version5
	pk, err := r.ReadPacket()
	p, ok := pk.(*packet.Publish)
	if err != nil || !ok {
		return nil
	}
	return pubcodec.Forwarded(&p.Properties)
}
