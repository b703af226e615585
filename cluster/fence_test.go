package cluster

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestTombstones checks that the claims of a node the leader held failed
// stay as tombstones: the next claim of each id names that node as
// Previous (with its token, for it to close the right connection), once;
// a release by that node, or a drop of its claims after a restart, clears
// them; and a snapshot keeps them.
func TestTombstones(t *testing.T) {
	var got []Change
	f := newFSM(func(c Change) { got = append(got, c) }, nil)
	applyCmd(t, f, &command{Op: opClaim, Client: "x", Node: "a", Token: 7})
	applyCmd(t, f, &command{Op: opClaim, Client: "y", Node: "a", Token: 8})
	applyCmd(t, f, &command{Op: opClaim, Client: "z", Node: "a", Token: 9})
	applyCmd(t, f, &command{Op: opDropNode, Node: "a", Tomb: true})
	if _, ok := f.owner("x"); ok || len(f.dropped) != 3 {
		t.Fatalf("after the drop: owners %v, dropped %v", f.owners, f.dropped)
	}

	// A snapshot keeps the tombstones.
	snap, _ := f.Snapshot()
	var buf bytes.Buffer
	snap.(*snapshotData).Persist(&bufSink{Buffer: &buf})
	g := newFSM(nil, nil)
	if err := g.Restore(io.NopCloser(&buf)); err != nil || len(g.dropped) != 3 {
		t.Fatalf("restored: %v, dropped %v", err, g.dropped)
	}

	got = nil
	if res := applyCmd(t, f, &command{Op: opClaim, Client: "x", Node: "b", Token: 1}); res.Previous != "a" {
		t.Errorf("claim of x from the tombstone: Previous %q, want a", res.Previous)
	}
	if len(got) != 1 || got[0].Previous != "a" || got[0].PreviousToken != 7 {
		t.Errorf("changes %+v", got)
	}
	if res := applyCmd(t, f, &command{Op: opClaim, Client: "x", Node: "c", Token: 1}); res.Previous != "b" {
		t.Errorf("next claim of x: Previous %q, want b", res.Previous)
	}
	applyCmd(t, f, &command{Op: opRelease, Client: "y", Node: "a", Token: 8}) // its connection ended
	if res := applyCmd(t, f, &command{Op: opClaim, Client: "y", Node: "b", Token: 2}); res.Previous != "" {
		t.Errorf("claim of y after a's release: Previous %q", res.Previous)
	}
	applyCmd(t, f, &command{Op: opDropNode, Node: "a", Keep: 5}) // a restarted: its connections died
	if res := applyCmd(t, f, &command{Op: opClaim, Client: "z", Node: "b", Token: 3}); res.Previous != "" || len(f.dropped) != 0 {
		t.Errorf("claim of z after a restarted: Previous %q, dropped %v", res.Previous, f.dropped)
	}
}

// bufSink is a raft.SnapshotSink into a buffer.
type bufSink struct{ *bytes.Buffer }

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { return nil }
func (s *bufSink) Close() error  { return nil }

// TestFenced checks that a node of a formed cluster is in contact, that a
// node whose two peers are gone is fenced after FenceLease, and that a
// node never in contact is fenced.
func TestFenced(t *testing.T) {
	t.Parallel()
	a, _ := startNode(t, "fence", "a", t.TempDir(), 3)
	b, _ := startNode(t, "fence", "b", t.TempDir(), 3, a.GossipAddr())
	c, _ := startNode(t, "fence", "c", t.TempDir(), 3, a.GossipAddr())
	if !a.Fenced() {
		t.Errorf("a node not yet in contact is not fenced")
	}
	waitFormed(t, a, b, c)
	// In contact two seconds ago at the latest (a leader counts as in
	// contact a second before now): fenced no sooner than the lease after.
	testutil.WaitWithin(t, testWait, "a in contact", func() bool { return a.OutOfContact() < 2*time.Second })
	start := time.Now()
	b.Close()
	c.Close()
	testutil.WaitWithin(t, testWait, "a fenced", a.Fenced)
	if d := time.Since(start); d < FenceLease-2*time.Second {
		t.Errorf("fenced %v after it was in contact, before the lease (%v) could run out", d, FenceLease)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := a.Claim(ctx, "x"); err == nil {
		t.Errorf("a fenced node claimed an id")
	}
}
