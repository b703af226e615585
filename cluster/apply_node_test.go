package cluster

import (
	"context"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// safeJournal is a journal for a running node: Snapshot runs on the
// seeding goroutine too.
type safeJournal struct {
	mu sync.Mutex // guards j
	j  journal
}

func (s *safeJournal) Apply(cmd []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.Apply(cmd)
}

func (s *safeJournal) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.Snapshot()
}

func (s *safeJournal) Restore(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.Restore(b)
}

func (s *safeJournal) state() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.state
}

// TestReplicateAcrossNodes checks Node.Replicate on a cluster of two nodes
// and one that joins after the log was compacted: each starts with its
// own state; the first leader's seeds them all; a command proposed on any
// node is applied on every one, and the proposer gets its own answer; the
// late node gets the state with the snapshot.
func TestReplicateAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tune := func(c *raft.Config) { c.TrailingLogs = 1; c.SnapshotThreshold = 1 }
	start := func(id string, expect int, join ...string) (*Node, *safeJournal) {
		j := &safeJournal{j: journal{state: "own " + id}}
		n, err := Start(ctx, Config{Name: "r", NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0", Join: join,
			BootstrapExpect: expect, DataDir: t.TempDir(), Logger: testLogger(t, id), tune: tune,
			Replicated: map[string]Replicated{"j": j}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n, j
	}
	a, ja := start("a", 2)
	b, jb := start("b", 2, a.GossipAddr())
	waitFormed(t, a, b)
	seed := "own " + leaderOf(a, b)
	testutil.WaitWithin(t, testWait, "the leader's state seeding both", func() bool {
		return ja.state() == seed && jb.state() == seed
	})

	for i, n := range []*Node{a, b, a} {
		cmd := string(rune('x' + i))
		before := ja.state()
		got, err := n.Replicate(ctx, "j", []byte(cmd))
		if err != nil {
			t.Fatalf("Replicate on %s: %v", n.ID(), err)
		}
		if want := "after " + before + "," + cmd; string(got) != want {
			t.Errorf("Replicate on %s answered %q, want %q", n.ID(), got, want)
		}
		testutil.WaitWithin(t, testWait, "both nodes applying "+cmd, func() bool {
			return ja.state() == before+","+cmd && jb.state() == ja.state()
		})
	}
	if _, err := a.Replicate(ctx, "none", []byte("x")); err == nil {
		t.Error("Replicate of a kind the node lacks succeeded")
	}

	if err := a.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if err := b.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c, jc := start("c", 0, a.GossipAddr())
	testutil.WaitWithin(t, testWait, "the late node with the cluster's state", func() bool { return jc.state() == ja.state() })
	if _, err := c.Replicate(ctx, "j", []byte("late")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitWithin(t, testWait, "every node applying the late node's command", func() bool {
		s := ja.state()
		return len(s) > 5 && s[len(s)-5:] == ",late" && jb.state() == s && jc.state() == s
	})
}
