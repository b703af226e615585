package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

// Fencing: a client identifier is never connected on two nodes at once,
// even across a partition. Two rules, each measured on one node's own
// monotonic clock only (no clocks are compared between nodes):
//
//  1. A node that has not been in contact with a majority for FenceLease
//     is fenced (Fenced): its user (the broker) closes the connections of
//     the identifiers it claimed and admits none until it is back. In
//     contact means: the node leads raft (a leader steps down within two
//     LeaderLeaseTimeouts of losing its majority, so it counts as in
//     contact that long before now), or it follows a known leader, as of
//     the last message it received from that leader (raft's LastContact).
//  2. A claim that takes an identifier over from another node (Previous)
//     is not used before AwaitTakeover returns: once that node says it
//     applied the claim (and closed its connection) or has been out of
//     contact for FenceLease+TakeoverMargin, or once it has not answered
//     for FenceLease+TakeoverMargin since the claim was agreed (or since
//     its last answer). Its last contact with the leader was before the
//     claim was agreed, unless it received the claim too; so by then it
//     has fenced itself.

// FenceLease is how long a node may be out of contact with a majority
// before it is fenced. It is several of raft's elections long (each takes
// one to two election timeouts of 1 s, and a split vote another), so
// that the nodes of a majority that lost its leader elect a new one well
// before it runs out: losing the leader node must not close the clients
// of the others.
const FenceLease = 10 * time.Second

// TakeoverMargin is what a takeover waits beyond FenceLease for a node it
// cannot reach: the fenced node's check interval, the time its broker takes
// to close its connections, and scheduling delays on a loaded machine.
const TakeoverMargin = 3 * time.Second

// contactTick is how often a node notes its contact with a majority.
const contactTick = 100 * time.Millisecond

// contactLoop keeps the node's last contact with a majority up to date.
func (n *Node) contactLoop() {
	defer n.wg.Done()
	t := time.NewTicker(contactTick)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.noteContact()
		}
	}
}

// noteContact updates and returns the last time the node was in contact
// with a majority (zero for never).
func (n *Node) noteContact() time.Time {
	var c time.Time
	switch n.raft.State() {
	case raft.Leader:
		c = time.Now().Add(-n.leaderSlack)
	case raft.Follower:
		if _, id := n.raft.LeaderWithID(); id != "" {
			c = n.raft.LastContact()
		}
	}
	n.contactMu.Lock()
	defer n.contactMu.Unlock()
	if c.After(n.contact) {
		n.contact = c
	}
	return n.contact
}

// OutOfContact returns how long the node has been out of contact with a
// majority of the cluster: zero or a few hundred milliseconds in a healthy
// cluster, and math.MaxInt64 for a node that was never in contact (it has
// just started: it has no connection to fence).
func (n *Node) OutOfContact() time.Duration {
	c := n.noteContact()
	if c.IsZero() {
		return math.MaxInt64
	}
	return max(time.Since(c), 0)
}

// Fenced reports whether the node has been out of contact with a majority
// for FenceLease or longer: it must then close the connections of the
// client identifiers it claimed and admit no client until it is back in
// contact (another node may take them over once their lease surely ran
// out, see AwaitTakeover). A node that was never in contact is fenced.
func (n *Node) Fenced() bool { return n.OutOfContact() >= FenceLease }

// fenceState is a node's answer to GET /v1/fence.
type fenceState struct {
	Applied      uint64 `json:"applied_index"`
	OutOfContact int64  `json:"out_of_contact_ms"`
}

// serveFence answers GET /v1/fence: how far the node applied raft's log
// and how long it has been out of contact.
func (n *Node) serveFence(w http.ResponseWriter, r *http.Request) {
	st := fenceState{Applied: n.raft.AppliedIndex(), OutOfContact: n.OutOfContact().Milliseconds()}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// fenceAsk bounds one question to the previous owner.
const fenceAsk = 500 * time.Millisecond

// AwaitTakeover returns once the connection that c took its identifier
// over from (on the node c.Previous) is surely closed: at once when there
// is none, or Previous is this node; as soon as that node answers that it
// applied c (it closes its connection when it does) or that it has been
// out of contact for FenceLease+TakeoverMargin; and otherwise once it has
// not answered for FenceLease+TakeoverMargin since c was agreed on (or since
// its last answer). On a healthy cluster that is a round trip or two. It
// returns an error wrapping ErrUnavailable when ctx ends first (a node
// that answers but neither applies c nor loses contact): the client must
// then be refused.
func (n *Node) AwaitTakeover(ctx context.Context, c Claim) error {
	if c.Previous == "" || c.Previous == n.cfg.NodeID {
		return nil
	}
	wait := FenceLease + TakeoverMargin
	heard := c.agreed
	if heard.IsZero() {
		heard = time.Now()
	}
	for {
		if addr := n.memberAddr(c.Previous); addr != "" {
			actx, cancel := context.WithTimeout(ctx, fenceAsk)
			st, err := n.askFence(actx, addr)
			cancel()
			if err == nil {
				if st.Applied >= c.Index || time.Duration(st.OutOfContact)*time.Millisecond >= wait {
					return nil
				}
				heard = time.Now() // it may have been in contact until now
			}
		}
		if time.Since(heard) >= wait {
			return nil
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: client id %q still connected on node %s? (%w)", ErrUnavailable, c.ClientID, c.Previous, ctx.Err())
		case <-n.ctx.Done():
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
	}
}

// askFence asks the node at addr for its fence state.
func (n *Node) askFence(ctx context.Context, addr string) (fenceState, error) {
	resp, body, err := call(ctx, n.client, http.MethodGet, scheme(n.cfg.TLS)+addr+"/v1/fence", nil, 4096)
	if err != nil {
		return fenceState{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return fenceState{}, errors.New(resp.Status)
	}
	var st fenceState
	err = json.Unmarshal(body, &st)
	return st, err
}

// memberAddr returns the cluster address of node id as the gossip or raft's
// configuration last told it, "" if unknown.
func (n *Node) memberAddr(id string) string {
	n.mu.Lock()
	mi := n.members[id]
	n.mu.Unlock()
	if mi != nil && mi.meta.Addr != "" {
		return mi.meta.Addr
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if string(s.ID) == id {
				return string(s.Address)
			}
		}
	}
	return ""
}
