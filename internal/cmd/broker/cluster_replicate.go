package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
)

// Acknowledged forwarding: a QoS 1 or 2 message a client publishes here is
// queued for the other nodes when the server routes it (Observe, in
// publishing order, waiting up to forwardWait for room in a full queue:
// the publisher's backpressure), and its PUBACK or PUBREC waits
// (Config.Replicate) until every live node it was queued for acknowledged
// it, that is routed it to its sessions and made the deliveries to its
// persistent sessions durable (Server.RouteAsync). A node memberlist
// declares dead is no longer waited for.

// forwardWait bounds the wait for room in a peer's full queue. A frame
// still without room is not sent to that peer, and the publisher's
// acknowledgement is refused (the connection closes, the client resends).
const forwardWait = 10 * time.Second

// replicateTimeout bounds the wait for the other nodes' acknowledgements:
// longer than memberlist takes to declare a killed node dead on a loaded
// machine. Past it the publisher's connection closes unacknowledged.
const replicateTimeout = 30 * time.Second

// pendingTTL is how long the Pending of a message nobody asks about (one
// the program published, whose acknowledgement does not wait) is kept.
const pendingTTL = 5 * time.Minute

// replication holds the Pending of the messages queued for the other
// nodes until Config.Replicate asks for them.
type replication struct {
	mu        sync.Mutex                       // guards pending, lastSweep
	pending   map[*broker.Message]pendingFrame // by message
	lastSweep time.Time
}

// pendingFrame is a message's frame as Forward queued it.
type pendingFrame struct {
	pd  *cluster.Pending
	err error // Forward's: a peer's queue stayed full
	at  time.Time
}

// forward queues m's frame f for the other nodes and keeps its Pending for
// replicate: to each of targets, the nodes with a matching route. It runs
// on the publishing goroutine, which it holds back
// while a queue is full.
func (r *replication) forward(n *cluster.Node, m *broker.Message, targets []cluster.Target, f []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), forwardWait)
	var pd *cluster.Pending
	var err error
	for _, t := range targets {
		var e error
		if pd, e = n.ForwardTo(ctx, pd, t.Node, selectFrame(t, f)); e != nil {
			err = e
		}
	}
	cancel()
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = make(map[*broker.Message]pendingFrame)
	}
	r.pending[m] = pendingFrame{pd: pd, err: err, at: now}
	if now.Sub(r.lastSweep) > time.Minute {
		r.lastSweep = now
		for k, p := range r.pending {
			if now.Sub(p.at) > pendingTTL {
				delete(r.pending, k)
			}
		}
	}
}

// replicate is Config.Replicate: it waits until the nodes m was queued for
// acknowledged it.
func (r *replication) replicate(ctx context.Context, m *broker.Message) error {
	r.mu.Lock()
	p, ok := r.pending[m]
	delete(r.pending, m)
	r.mu.Unlock()
	switch {
	case !ok:
		return nil // not forwarded ($ topics, expired) or no peer
	case p.err != nil:
		return p.err
	case p.pd == nil:
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, replicateTimeout)
	defer cancel()
	if err := p.pd.Wait(ctx); err != nil {
		return fmt.Errorf("cluster: waiting for the other nodes: %w", err)
	}
	return nil
}
