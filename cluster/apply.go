package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Replicated is a state machine of the broker's that the cluster keeps
// identical on every node (Config.Replicated): dynamic security, for one.
// Its commands are opaque to the cluster. Every method is called from
// raft's apply goroutine, in log order, on every node; Snapshot also from
// the leader when it seeds the state.
type Replicated interface {
	// Apply applies a command that Node.Replicate proposed, on every
	// node, in raft's log order, and returns its answer (the origin node
	// hands its own node's answer back to the caller of Replicate). It
	// must be deterministic: the same state and command give the same
	// state and answer on every node. Side effects on the node itself
	// (disconnecting its own clients, saving a file) are its own.
	Apply(cmd []byte) []byte
	// Snapshot returns the whole state, for a raft snapshot and to seed a
	// new cluster.
	Snapshot() ([]byte, error)
	// Restore replaces the state with one Snapshot returned.
	Restore(state []byte) error
}

// Operations of the replicated state machines.
const (
	// opApply hands Payload to the Replicated of Kind: Node proposed it,
	// with Token (incarnation<<32 | sequence).
	opApply = "apply"
	// opSeed sets the state of Kind to Payload unless it was set before:
	// the first leader's own state seeds the cluster's.
	opSeed = "seed"
)

// replicatedState is what the FSM keeps of the Replicated: which ones the
// cluster has a state for (seeded), and the last command applied of each
// node, so that a command forwarded twice (a retry after a lost answer),
// or an older one arriving late, is applied once.
type replicatedState struct {
	self  string                // this node's id
	kinds map[string]Replicated // as configured; read-only
	log   *slog.Logger
	// applied is called when a command this node proposed was applied
	// here, with its answer, or refused, with why.
	applied func(token uint64, answer []byte, refused string)

	mu     sync.Mutex        // guards seeded and tokens
	seeded map[string]bool   // kinds whose state the cluster set
	tokens map[string]uint64 // by node: the token of its last command applied
}

// initReplicated sets up the replicated state machines of cfg.
func (f *fsm) initReplicated(self string, kinds map[string]Replicated, log *slog.Logger, applied func(uint64, []byte, string)) {
	f.repl = &replicatedState{self: self, kinds: kinds, log: log, applied: applied,
		seeded: make(map[string]bool), tokens: make(map[string]uint64)}
}

// applyReplicated applies an opApply or opSeed command.
func (f *fsm) applyReplicated(index uint64, c *command) result {
	rs := f.repl
	if rs == nil {
		// A node configured without replicated states: it has nothing to
		// apply, and no answer to give (the proposer has its own).
		return result{}
	}
	r := rs.kinds[c.Kind]
	switch c.Op {
	case opSeed:
		rs.mu.Lock()
		done := rs.seeded[c.Kind]
		rs.seeded[c.Kind] = true
		rs.mu.Unlock()
		if done || r == nil {
			return result{}
		}
		if err := r.Restore(c.Payload); err != nil {
			rs.log.Error("cluster: seeding the replicated state", "kind", c.Kind, "index", index, "err", err)
		}
		return result{}
	case opApply:
		rs.mu.Lock()
		if !rs.seeded[c.Kind] {
			// Every node with the kind refuses alike: the cluster has no
			// state for it yet (no leader with the kind seeded it).
			rs.mu.Unlock()
			msg := fmt.Sprintf("no agreed %s state yet", c.Kind)
			if c.Node == rs.self && rs.applied != nil {
				rs.applied(c.Token, nil, msg)
			}
			return result{Error: msg}
		}
		last, seen := rs.tokens[c.Node]
		dup := seen && last>>32 == c.Token>>32 && uint32(c.Token) <= uint32(last)
		if !dup {
			rs.tokens[c.Node] = c.Token
		}
		rs.mu.Unlock()
		if dup {
			return result{}
		}
		if r == nil {
			rs.log.Error("cluster: a replicated command of a kind this node does not have", "kind", c.Kind, "index", index)
			return result{}
		}
		answer := r.Apply(c.Payload)
		if c.Node == rs.self && rs.applied != nil {
			rs.applied(c.Token, answer, "")
		}
		return result{}
	}
	return result{Error: fmt.Sprintf("unknown operation %q", c.Op)}
}

// snapshotReplicated adds the replicated state to a snapshot. It runs on
// raft's apply goroutine, between two commands.
func (f *fsm) snapshotReplicated(d *snapshotData) error {
	rs := f.repl
	if rs == nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	d.Tokens = make(map[string]uint64, len(rs.tokens))
	for k, v := range rs.tokens {
		d.Tokens[k] = v
	}
	for kind, r := range rs.kinds {
		if !rs.seeded[kind] {
			continue
		}
		b, err := r.Snapshot()
		if err != nil {
			return fmt.Errorf("cluster: snapshot of %q: %w", kind, err)
		}
		if d.Kinds == nil {
			d.Kinds = make(map[string][]byte)
		}
		d.Kinds[kind] = b
	}
	return nil
}

// restoreReplicated replaces the replicated state with a snapshot's. A
// kind the snapshot has no state for keeps its state and is not seeded:
// the leader seeds it.
func (f *fsm) restoreReplicated(d *snapshotData) error {
	rs := f.repl
	if rs == nil {
		return nil
	}
	var errs []error
	seeded := make(map[string]bool)
	for kind, r := range rs.kinds {
		b, ok := d.Kinds[kind]
		if !ok {
			continue
		}
		seeded[kind] = true
		if err := r.Restore(b); err != nil {
			errs = append(errs, fmt.Errorf("cluster: restore %q: %w", kind, err))
		}
	}
	tokens := d.Tokens
	if tokens == nil {
		tokens = make(map[string]uint64)
	}
	rs.mu.Lock()
	rs.seeded, rs.tokens = seeded, tokens
	rs.mu.Unlock()
	return errors.Join(errs...)
}

// unseeded returns the configured kinds the cluster has no state for.
func (f *fsm) unseeded() []string {
	rs := f.repl
	if rs == nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []string
	for kind := range rs.kinds {
		if !rs.seeded[kind] {
			out = append(out, kind)
		}
	}
	return out
}

// waiters are the Replicate calls waiting for this node's answer.
type waiters struct {
	mu  sync.Mutex              // guards m and seq
	m   map[uint64]chan applied // by token; buffered, 1
	seq uint32                  // the last sequence number given
	one sync.Mutex              // one Replicate at a time: tokens reach raft in order
}

// applied is a command's outcome on this node.
type applied struct {
	answer  []byte
	refused string // why it was not applied, "" if it was
}

// deliver hands the outcome to the Replicate call waiting for it, if any.
func (w *waiters) deliver(token uint64, answer []byte, refused string) {
	w.mu.Lock()
	ch, ok := w.m[token]
	delete(w.m, token)
	w.mu.Unlock()
	if ok {
		ch <- applied{answer, refused}
	}
}

// Replicate applies cmd to the Replicated of kind on every node, in raft's
// log order, and returns this node's answer: the one its own Apply gave.
// Commands of one node are proposed one at a time. It returns
// ErrUnavailable (wrapped) when the cluster cannot agree before ctx's
// deadline (or Config.ApplyTimeout), as on the minority side of a
// partition: the command is not applied then, unless the majority came
// back just as the deadline passed (the caller cannot tell: that is raft's
// ambiguity of a timeout).
func (n *Node) Replicate(ctx context.Context, kind string, cmd []byte) ([]byte, error) {
	if _, ok := n.cfg.Replicated[kind]; !ok {
		return nil, fmt.Errorf("cluster: no replicated state %q", kind)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.ApplyTimeout)
		defer cancel()
	}
	w := &n.waiters
	w.one.Lock()
	defer w.one.Unlock()
	ch := make(chan applied, 1)
	w.mu.Lock()
	w.seq++
	tok := uint64(n.incarnation)<<32 | uint64(w.seq)
	if w.m == nil {
		w.m = make(map[uint64]chan applied)
	}
	w.m[tok] = ch
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.m, tok)
		w.mu.Unlock()
	}()
	if _, err := n.apply(ctx, &command{Op: opApply, Kind: kind, Node: n.cfg.NodeID, Token: tok, Payload: cmd}); err != nil {
		return nil, err
	}
	// Committed: this node applies it once it learns the commit index,
	// at the next heartbeat at the latest.
	t := time.NewTimer(n.cfg.ApplyTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.refused != "" {
			return nil, fmt.Errorf("cluster: %s", a.refused)
		}
		return a.answer, nil
	case <-t.C:
		return nil, fmt.Errorf("cluster: command agreed but not applied on this node within %v", n.cfg.ApplyTimeout)
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
}

// seedLoop has the leader seed, with its own state, each replicated state
// the cluster has none of: in a new cluster, the first leader's.
func (n *Node) seedLoop() {
	defer n.wg.Done()
	var retry time.Time // after a failure (a state too large), not before
	for n.sleep(500 * time.Millisecond) {
		if n.raft.State() != raft.Leader || time.Now().Before(retry) {
			continue
		}
		for _, kind := range n.fsm.unseeded() {
			b, err := n.cfg.Replicated[kind].Snapshot()
			if err == nil {
				ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ApplyTimeout)
				_, err = n.apply(ctx, &command{Op: opSeed, Kind: kind, Payload: b})
				cancel()
			}
			if err != nil && n.ctx.Err() == nil {
				retry = time.Now().Add(10 * time.Second)
				n.log.Warn("cluster: seeding the replicated state", "kind", kind, "err", err)
			} else if err == nil {
				n.log.Info("cluster: seeded the replicated state with this node's", "kind", kind)
			}
		}
	}
}
