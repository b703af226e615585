package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Claim is a node's claim on a client identifier.
type Claim struct {
	// ClientID is the client identifier claimed.
	ClientID string
	// Token identifies the claim, for Release.
	Token uint64
	// Previous is the node that owned the identifier before ("" for none,
	// or this node's own id when it owned it already): the node whose
	// connection with that identifier must now close. It is also a failed
	// node whose claims were dropped, which may still be running cut off.
	// When Previous is another node, AwaitTakeover tells when that
	// connection is surely closed.
	Previous string
	// Index is the claim's raft log index.
	Index uint64
	// agreed is when this node learned the claim was agreed on, on its
	// monotonic clock.
	agreed time.Time
}

// Claim makes this node the owner of a client identifier, through raft: a
// node calls it before accepting a CONNECT. It returns ErrUnavailable
// (wrapped) when the cluster cannot agree before ctx's deadline (or
// Config.ApplyTimeout), as on the minority side of a partition: the client
// must then be refused (CONNACK 0x88, server unavailable).
func (n *Node) Claim(ctx context.Context, clientID string) (Claim, error) {
	tok := uint64(n.incarnation)<<32 | uint64(n.claims.Add(1))
	res, err := n.apply(ctx, &command{Op: opClaim, Client: clientID, Node: n.cfg.NodeID, Token: tok})
	if err != nil {
		return Claim{}, err
	}
	return Claim{ClientID: clientID, Token: tok, Previous: res.Previous, Index: res.Index, agreed: time.Now()}, nil
}

// Release gives up a claim, when its connection closes. It does nothing
// if the identifier has been claimed since (by any node).
func (n *Node) Release(ctx context.Context, c Claim) error {
	_, err := n.apply(ctx, &command{Op: opRelease, Client: c.ClientID, Node: n.cfg.NodeID, Token: c.Token})
	return err
}

// Retain sets the retained message of each r.Topic on every node (deletes
// it when r.Payload is empty), in the order given, as one raft command.
// Each r.Node is set to this node. It returns ErrTooLarge for messages
// larger than about MaxCommandSize together.
func (n *Node) Retain(ctx context.Context, rs ...Retained) error {
	if len(rs) == 0 {
		return nil
	}
	batch := make([]Retained, len(rs))
	for i, r := range rs {
		if r.Topic == "" {
			return errors.New("cluster: retained message without a topic")
		}
		r.Node = n.cfg.NodeID
		batch[i] = r
	}
	c := &command{Op: opRetainBatch, Batch: batch}
	if len(batch) == 1 {
		c = &command{Op: opRetain, Retained: &batch[0]}
	}
	_, err := n.apply(ctx, c)
	return err
}

// Owner returns the node that owns a client identifier in this node's copy
// of the state, which may lag the leader's by the replication delay.
func (n *Node) Owner(clientID string) (node string, ok bool) {
	o, ok := n.fsm.owner(clientID)
	return o.Node, ok
}

// Clients returns, sorted, the client identifiers node owns in this node's
// copy of the state, at most max of them (all if max <= 0), and how many
// it owns in all.
func (n *Node) Clients(node string, max int) (ids []string, total int) {
	n.fsm.mu.RLock()
	for id, o := range n.fsm.owners {
		if o.Node == node {
			ids = append(ids, id)
		}
	}
	n.fsm.mu.RUnlock()
	slices.Sort(ids)
	total = len(ids)
	if max > 0 && len(ids) > max {
		ids = ids[:max]
	}
	return ids, total
}

// RetainedMessage returns the retained message of topic in this node's
// copy of the state.
func (n *Node) RetainedMessage(topic string) (Retained, bool) {
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	r, ok := n.fsm.retained[topic]
	return r, ok
}

// RetainedMessages calls yield for each retained message in this node's
// copy of the state, in no order, until yield returns false. yield must
// not call the Node's methods.
func (n *Node) RetainedMessages(yield func(Retained) bool) {
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	for _, r := range n.fsm.retained {
		if !yield(r) {
			return
		}
	}
}

// errNotLeader is a leader's answer that it no longer is.
var errNotLeader = errors.New("cluster: not the leader")

// apply runs c through raft, on this node if it leads, else through the
// leader's API, retrying across leader changes until ctx's deadline (or
// ApplyTimeout). Every command is idempotent, so a retry of one that did
// commit is harmless.
func (n *Node) apply(ctx context.Context, c *command) (result, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return result{}, err
	}
	if len(b) > MaxCommandSize {
		return result{}, ErrTooLarge
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		defer cancel()
	}
	var last error
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		if n.ctx.Err() != nil {
			return result{}, ErrClosed
		}
		var res result
		addr, _ := n.raft.LeaderWithID()
		switch {
		case n.raft.State() == raft.Leader:
			res, err = n.applyLocal(ctx, b)
		case addr != "":
			res, err = n.forward(ctx, string(addr), b)
		default:
			err = errors.New("no leader known")
		}
		if err == nil {
			if res.Error != "" {
				return res, fmt.Errorf("cluster: %s", res.Error)
			}
			return res, nil
		}
		last = err
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return result{}, fmt.Errorf("%w: %v (%w)", ErrUnavailable, last, ctx.Err())
		case <-n.ctx.Done():
			t.Stop()
			return result{}, ErrClosed
		case <-t.C:
		}
	}
}

// applyLocal applies an encoded command on the leader.
func (n *Node) applyLocal(ctx context.Context, b []byte) (result, error) {
	timeout := n.cfg.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	f := n.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		return result{}, err
	}
	switch r := f.Response().(type) {
	case result:
		r.Index = f.Index()
		return r, nil
	case error:
		return result{Error: r.Error()}, nil
	}
	return result{Index: f.Index()}, nil
}

// forward hands an encoded command to the leader's API.
func (n *Node) forward(ctx context.Context, addr string, b []byte) (result, error) {
	resp, body, err := call(ctx, n.client, http.MethodPost, scheme(n.cfg.TLS)+addr+"/v1/apply", b, 1<<20)
	if err != nil {
		return result{}, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var res result
		if err := json.Unmarshal(body, &res); err != nil {
			return result{}, fmt.Errorf("leader %s: %w", addr, err)
		}
		return res, nil
	case http.StatusMisdirectedRequest:
		return result{}, errNotLeader
	}
	return result{}, fmt.Errorf("leader %s: %s: %s", addr, resp.Status, bytes.TrimSpace(body))
}

// handler serves the node API on the cluster port.
func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.Status())
	})
	mux.HandleFunc("GET /v1/fence", n.serveFence) // fence.go
	n.sessionRoutes(mux)                          // session.go
	mux.HandleFunc("POST /v1/apply", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCommandSize))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		var c command
		if err := json.Unmarshal(b, &c); err != nil {
			http.Error(w, "bad command: "+err.Error(), http.StatusBadRequest)
			return
		}
		if n.raft.State() != raft.Leader {
			http.Error(w, "not the leader", http.StatusMisdirectedRequest)
			return
		}
		res, err := n.applyLocal(r.Context(), b)
		if err != nil {
			code := http.StatusServiceUnavailable
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
				code = http.StatusMisdirectedRequest
			}
			http.Error(w, err.Error(), code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	})
	return mux
}
