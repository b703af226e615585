package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Retained is a retained message as the cluster agrees on it.
type Retained struct {
	// Topic is the topic name.
	Topic string `json:"topic"`
	// Payload is the message; empty in a command deletes the topic's
	// retained message.
	Payload []byte `json:"payload,omitempty"`
	// QoS is the message's QoS (0, 1 or 2).
	QoS byte `json:"qos,omitempty"`
	// Properties are the message's MQTT 5 properties, encoded by the broker
	// integration; opaque to the cluster.
	Properties []byte `json:"props,omitempty"`
	// Expiry is when the message expires; zero for never.
	Expiry time.Time `json:"expiry,omitzero"`
	// Publisher is the publisher's client identifier.
	Publisher string `json:"publisher,omitempty"`
	// Node is the node the message was published on.
	Node string `json:"node,omitempty"`
}

// ChangeKind says what a Change is about.
type ChangeKind uint8

const (
	// OwnerChanged: ClientID is now owned by Owner ("" for nobody); it was
	// owned by Previous.
	OwnerChanged ChangeKind = iota + 1
	// RetainedChanged: the retained message of Retained.Topic was set, or
	// deleted when Retained.Payload is empty.
	RetainedChanged
)

// String returns the kind's name.
func (k ChangeKind) String() string {
	switch k {
	case OwnerChanged:
		return "owner"
	case RetainedChanged:
		return "retained"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// Change is one change of the replicated state, as Config.OnChange sees it.
type Change struct {
	Kind     ChangeKind
	ClientID string // OwnerChanged
	Owner    string // OwnerChanged: the new owner, "" when released
	Previous string // OwnerChanged: the owner before, "" for none
	// PreviousToken is the Claim.Token of Previous's claim (OwnerChanged):
	// Previous ends the connection it admitted with that claim only, not
	// one admitted with a later claim of its own.
	PreviousToken uint64
	Retained      *Retained // RetainedChanged
}

// Operations of a command.
const (
	opClaim    = "claim"
	opRelease  = "release"
	opDropNode = "drop_node"
	opRetain   = "retain"
	// opRetainBatch sets several retained messages, in order.
	opRetainBatch = "retain_batch"
)

// command is one entry of raft's log, encoded as JSON.
type command struct {
	Op     string `json:"op"`
	Client string `json:"client,omitempty"`
	Node   string `json:"node,omitempty"`
	Token  uint64 `json:"token,omitempty"`
	Keep   uint32 `json:"keep,omitempty"` // drop_node: the incarnation whose claims stay
	// Tomb (drop_node): the node is failed, not gone: its claims are kept
	// as tombstones, so that the next claim of each of its identifiers
	// names it as Previous (fence.go) and waits for its lease.
	Tomb     bool       `json:"tomb,omitempty"`
	Retained *Retained  `json:"retained,omitempty"`
	Batch    []Retained `json:"batch,omitempty"` // retain_batch
	// Kind and Payload: apply and seed, a command of a Replicated (apply.go).
	Kind    string `json:"kind,omitempty"`
	Payload []byte `json:"payload,omitempty"`
}

// result is what applying a command returns.
type result struct {
	Previous string `json:"previous,omitempty"` // claim: the owner before
	Index    uint64 `json:"index,omitempty"`    // the command's raft log index (set by applyLocal)
	Error    string `json:"error,omitempty"`
}

// owner is the claim on a client identifier.
type owner struct {
	Node string `json:"node"`
	// Token identifies the claim: its top 32 bits are the claiming node's
	// incarnation, so a restarted node can drop the claims of its earlier
	// life and keep its new ones.
	Token uint64 `json:"token"`
	// Previous is the owner the claim took the identifier from, for a
	// repeated claim command (a retry) to get the same answer.
	Previous string `json:"previous,omitempty"`
}

// fsm is the replicated state machine.
type fsm struct {
	onChange  func(Change)
	onRestore func()

	mu     sync.RWMutex     // guards owners, dropped and retained
	owners map[string]owner // by client identifier
	// dropped are the claims of failed nodes (drop_node with Tomb), by
	// client identifier, until the identifier is claimed again or the node
	// comes back or is removed.
	dropped  map[string]owner
	retained map[string]Retained // by topic

	repl *replicatedState // Config.Replicated (apply.go); nil: none. Set before raft starts.
}

var _ raft.FSM = (*fsm)(nil)

func newFSM(onChange func(Change), onRestore func()) *fsm {
	return &fsm{onChange: onChange, onRestore: onRestore,
		owners: make(map[string]owner), dropped: make(map[string]owner), retained: make(map[string]Retained)}
}

// Apply applies one log entry. It returns a result (or an error for an
// entry it cannot decode, which no node of this version writes).
func (f *fsm) Apply(l *raft.Log) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("cluster: log entry %d: %w", l.Index, err)
	}
	if c.Op == opApply || c.Op == opSeed {
		return f.applyReplicated(l.Index, &c) // not under f.mu: apply.go
	}
	res, changes := f.apply(&c)
	if f.onChange != nil {
		for _, ch := range changes {
			f.onChange(ch)
		}
	}
	return res
}

// apply applies c and returns its result and the changes it made.
func (f *fsm) apply(c *command) (result, []Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Op {
	case opClaim:
		cur, ok := f.owners[c.Client]
		if ok && cur.Node == c.Node && cur.Token == c.Token {
			return result{Previous: cur.Previous}, nil // a retry
		}
		if !ok {
			// A failed node's claim: that node may still have the client.
			cur = f.dropped[c.Client]
		}
		delete(f.dropped, c.Client)
		f.owners[c.Client] = owner{Node: c.Node, Token: c.Token, Previous: cur.Node}
		return result{Previous: cur.Node}, []Change{{Kind: OwnerChanged, ClientID: c.Client, Owner: c.Node,
			Previous: cur.Node, PreviousToken: cur.Token}}
	case opRelease:
		cur, ok := f.owners[c.Client]
		if !ok || cur.Node != c.Node || cur.Token != c.Token {
			if d, ok := f.dropped[c.Client]; ok && d.Node == c.Node && d.Token == c.Token {
				delete(f.dropped, c.Client) // its connection ended: nothing to wait for
			}
			return result{}, nil // released already, or claimed since
		}
		delete(f.owners, c.Client)
		return result{}, []Change{{Kind: OwnerChanged, ClientID: c.Client, Previous: c.Node, PreviousToken: c.Token}}
	case opDropNode:
		var changes []Change
		drop := func(o owner) bool { return o.Node == c.Node && (c.Keep == 0 || uint32(o.Token>>32) != c.Keep) }
		if !c.Tomb {
			// The node restarted (its connections died) or was removed.
			for id, d := range f.dropped {
				if drop(d) {
					delete(f.dropped, id)
				}
			}
		}
		for id, cur := range f.owners {
			if drop(cur) {
				delete(f.owners, id)
				if c.Tomb {
					f.dropped[id] = owner{Node: cur.Node, Token: cur.Token}
				}
				changes = append(changes, Change{Kind: OwnerChanged, ClientID: id, Previous: c.Node, PreviousToken: cur.Token})
			}
		}
		return result{}, changes
	case opRetain, opRetainBatch:
		rs := c.Batch
		if c.Op == opRetain && c.Retained != nil {
			rs = []Retained{*c.Retained}
		}
		if len(rs) == 0 || slices.ContainsFunc(rs, func(r Retained) bool { return r.Topic == "" }) {
			return result{Error: "retain without a topic"}, nil
		}
		var changes []Change
		for i := range rs {
			r := &rs[i]
			if len(r.Payload) == 0 {
				if _, ok := f.retained[r.Topic]; !ok {
					continue
				}
				delete(f.retained, r.Topic)
			} else {
				f.retained[r.Topic] = *r
			}
			changes = append(changes, Change{Kind: RetainedChanged, Retained: r})
		}
		return result{}, changes
	}
	return result{Error: fmt.Sprintf("unknown operation %q", c.Op)}, nil
}

// owner returns the owner of a client identifier.
func (f *fsm) owner(clientID string) (owner, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	o, ok := f.owners[clientID]
	return o, ok
}

// counts returns the number of claims and of retained messages.
func (f *fsm) counts() (owners, retained int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.owners), len(f.retained)
}

// ownersByNode returns the number of client identifiers each node owns.
func (f *fsm) ownersByNode() map[string]int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := make(map[string]int)
	for _, o := range f.owners {
		n[o.Node]++
	}
	return n
}

// snapshotData is the state as a snapshot holds it.
type snapshotData struct {
	Version  int              `json:"version"`
	Owners   map[string]owner `json:"owners"`
	Dropped  map[string]owner `json:"dropped,omitempty"`
	Retained []Retained       `json:"retained"`
	// Kinds is the state of each seeded Replicated, Tokens the last
	// command applied of each node (apply.go).
	Kinds  map[string][]byte `json:"kinds,omitempty"`
	Tokens map[string]uint64 `json:"tokens,omitempty"`
}

// Snapshot copies the state; raft persists the copy while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	d, err := f.snapshotState()
	if err != nil {
		return nil, err
	}
	return d, f.snapshotReplicated(d)
}

// snapshotState copies the client id claims and retained messages.
func (f *fsm) snapshotState() (*snapshotData, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d := &snapshotData{Version: 1, Owners: make(map[string]owner, len(f.owners)),
		Retained: make([]Retained, 0, len(f.retained))}
	for k, v := range f.owners {
		d.Owners[k] = v
	}
	if len(f.dropped) > 0 {
		d.Dropped = make(map[string]owner, len(f.dropped))
		for k, v := range f.dropped {
			d.Dropped[k] = v
		}
	}
	for _, r := range f.retained {
		d.Retained = append(d.Retained, r) // Payload and Properties are never modified in place
	}
	return d, nil
}

// Restore replaces the state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var d snapshotData
	if err := json.NewDecoder(rc).Decode(&d); err != nil {
		return fmt.Errorf("cluster: restore snapshot: %w", err)
	}
	if d.Version != 1 {
		return fmt.Errorf("cluster: restore snapshot: unknown version %d", d.Version)
	}
	if d.Owners == nil {
		d.Owners = make(map[string]owner)
	}
	if d.Dropped == nil {
		d.Dropped = make(map[string]owner)
	}
	retained := make(map[string]Retained, len(d.Retained))
	for _, r := range d.Retained {
		if r.Topic == "" {
			return errors.New("cluster: restore snapshot: retained message without a topic")
		}
		retained[r.Topic] = r
	}
	f.mu.Lock()
	f.owners, f.dropped, f.retained = d.Owners, d.Dropped, retained
	f.mu.Unlock()
	if err := f.restoreReplicated(&d); err != nil {
		return err
	}
	if f.onRestore != nil {
		f.onRestore()
	}
	return nil
}

// Persist writes the snapshot.
func (d *snapshotData) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(d); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: write snapshot: %w", err)
	}
	return sink.Close()
}

// Release does nothing: the copy belongs to the snapshot.
func (d *snapshotData) Release() {}
