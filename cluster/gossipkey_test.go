package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// startKeyedNode starts a node of cluster "key" with gossip key key (nil:
// none), logging to log too.
func startKeyedNode(t *testing.T, id string, key []byte, log *testutil.LockedBuffer, expect int, join ...string) *Node {
	t.Helper()
	h := slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo})
	n, err := Start(context.Background(), Config{Name: "key", NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		Join: join, BootstrapExpect: expect, DataDir: t.TempDir(), Logger: slog.New(h), GossipKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Close()
		if t.Failed() {
			t.Logf("log of %s:\n%s", id, log.String())
		}
	})
	return n
}

// memberIDs returns the ids n lists.
func memberIDs(n *Node) []string {
	var ids []string
	for _, m := range n.Status().Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestGossipKey forms a cluster whose gossip is encrypted, and checks that
// a node without the key, or with another, cannot join it: neither side
// lists the other.
func TestGossipKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	a := startKeyedNode(t, "a", key, &testutil.LockedBuffer{}, 2)
	b := startKeyedNode(t, "b", key, &testutil.LockedBuffer{}, 2, a.GossipAddr())
	testutil.WaitWithin(t, testWait, "a leader known to both", func() bool { return leaderOf(a, b) != "" })
	testutil.WaitWithin(t, testWait, "two voters", func() bool { return len(voters(a)) == 2 && len(voters(b)) == 2 })

	for _, tc := range []struct {
		id  string
		key []byte
	}{{"nokey", nil}, {"otherkey", bytes.Repeat([]byte{8}, 32)}, {"shortkey", key[:16]}} {
		log := &testutil.LockedBuffer{}
		x := startKeyedNode(t, tc.id, tc.key, log, 0, a.GossipAddr(), b.GossipAddr())
		testutil.WaitWithin(t, testWait, tc.id+"'s join refused", func() bool { return strings.Contains(log.String(), "no seed answers yet") })
		for _, n := range []*Node{a, b} {
			if slices.Contains(memberIDs(n), tc.id) {
				t.Errorf("%s lists %s", n.ID(), tc.id)
			}
		}
		if ids := memberIDs(x); !slices.Equal(ids, []string{tc.id}) {
			t.Errorf("%s lists %v, want itself only", tc.id, ids)
		}
		x.Close()
	}
	if _, err := Start(context.Background(), Config{Name: "key", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		BootstrapExpect: 1, DataDir: t.TempDir(), GossipKey: key[:10]}); err == nil || !strings.Contains(err.Error(), "gossip key of 10 bytes") {
		t.Errorf("Start with a 10-byte key: %v", err)
	}
}
