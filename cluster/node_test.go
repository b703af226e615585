package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// testWait bounds the waits of these tests: generous, for a loaded
// machine; a passing test never waits that long.
const testWait = 60 * time.Second

// testLogger sends a node's records to t.Log until the test's cleanups
// that were registered after it (the node's Close) have run: memberlist
// may log from a goroutine that outlives Shutdown, and t.Log after the
// test ends panics.
func testLogger(t testing.TB, id string) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test_node", id)
}

type tWriter struct {
	t    testing.TB
	mu   sync.Mutex // guards done
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// changes records what OnChange reports.
type changes struct {
	mu   sync.Mutex // guards list
	list []Change
}

func (c *changes) add(ch Change) { c.mu.Lock(); c.list = append(c.list, ch); c.mu.Unlock() }

func (c *changes) has(f func(Change) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.list, f)
}

// startNode starts a node of cluster name with id, joining join, and
// closes it when the test ends.
func startNode(t *testing.T, name, id, dir string, expect int, join ...string) (*Node, *changes) {
	t.Helper()
	ch := &changes{}
	n, err := Start(context.Background(), Config{Name: name, NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		Join: join, BootstrapExpect: expect, DataDir: dir, Logger: testLogger(t, id), OnChange: ch.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, ch
}

// changesOf returns the changes of n among those of a, b and c.
func changesOf(n *Node, cha, chb, chc *changes) *changes {
	return map[string]*changes{"a": cha, "b": chb, "c": chc}[n.ID()]
}

func leaderOf(nodes ...*Node) string {
	var leader string
	for _, n := range nodes {
		s := n.Status()
		if s.Leader == "" || (leader != "" && s.Leader != leader) {
			return ""
		}
		leader = s.Leader
	}
	return leader
}

func voters(n *Node) []string {
	var out []string
	for _, m := range n.Status().Members {
		if m.Voter {
			out = append(out, m.ID)
		}
	}
	return out
}

// waitFormed waits until every node of nodes knows one leader and counts
// all of nodes as voters.
func waitFormed(t *testing.T, nodes ...*Node) {
	t.Helper()
	testutil.WaitWithin(t, testWait, "one leader that every node knows", func() bool { return leaderOf(nodes...) != "" })
	for _, n := range nodes {
		testutil.WaitWithin(t, testWait, fmt.Sprintf("%d voters on %s", len(nodes), n.ID()), func() bool { return len(voters(n)) == len(nodes) })
	}
}

// TestThreeNodes forms a cluster of three nodes in one process, claims a
// client identifier from a follower, takes it over from another node,
// releases it, replicates a retained message, loses the leader and claims
// again on the survivors.
func TestThreeNodes(t *testing.T) {
	t.Parallel()
	a, cha := startNode(t, "c1", "a", t.TempDir(), 3)
	b, chb := startNode(t, "c1", "b", t.TempDir(), 3, a.GossipAddr())
	c, chc := startNode(t, "c1", "c", t.TempDir(), 3, a.GossipAddr())
	nodes := []*Node{a, b, c}
	waitFormed(t, nodes...)

	var follower, other *Node
	for _, n := range nodes {
		if n.Status().State != "Leader" {
			if follower == nil {
				follower = n
			} else {
				other = n
			}
		}
	}
	ctx := context.Background()
	cl, err := follower.Claim(ctx, "client-1")
	if err != nil || cl.Previous != "" {
		t.Fatalf("Claim from follower %s = %+v, %v", follower.ID(), cl, err)
	}
	for _, n := range nodes {
		testutil.WaitWithin(t, testWait, "the claim on "+n.ID(), func() bool { o, ok := n.Owner("client-1"); return ok && o == follower.ID() })
	}
	cl2, err := other.Claim(ctx, "client-1")
	if err != nil || cl2.Previous != follower.ID() {
		t.Fatalf("takeover Claim from %s = %+v, %v; want previous %s", other.ID(), cl2, err, follower.ID())
	}
	// The first owner learns of the takeover with its claim's token, so it
	// closes the connection that claim admitted, and no later one.
	testutil.WaitWithin(t, testWait, "the takeover change on "+follower.ID(), func() bool {
		return changesOf(follower, cha, chb, chc).has(func(x Change) bool {
			return x.Kind == OwnerChanged && x.ClientID == "client-1" && x.Owner == other.ID() &&
				x.Previous == follower.ID() && x.PreviousToken == cl.Token
		})
	})
	// A stale release (the first connection closing late) changes nothing.
	if err := follower.Release(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if err := other.Release(ctx, cl2); err != nil {
		t.Fatal(err)
	}
	testutil.WaitWithin(t, testWait, "the release everywhere", func() bool {
		for _, n := range nodes {
			if _, ok := n.Owner("client-1"); ok {
				return false
			}
		}
		return true
	})

	if err := b.Retain(ctx, Retained{Topic: "a/b", Payload: []byte("hello"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []*changes{cha, chc} {
		testutil.WaitWithin(t, testWait, "the retained change", func() bool {
			return ch.has(func(x Change) bool {
				return x.Kind == RetainedChanged && x.Retained.Topic == "a/b" && string(x.Retained.Payload) == "hello"
			})
		})
	}
	if r, ok := c.RetainedMessage("a/b"); !ok || string(r.Payload) != "hello" || r.Node != "b" {
		t.Errorf("RetainedMessage(a/b) on c = %+v, %v", r, ok)
	}
	if _, ok := c.RetainedMessage("a/c"); ok {
		t.Errorf("RetainedMessage(a/c) found a message")
	}
	// Several in one command, from a follower.
	if err := follower.Retain(ctx, Retained{Topic: "m/1", Payload: []byte("one")}, Retained{Topic: "m/2", Payload: []byte("two")}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		testutil.WaitWithin(t, testWait, "the batch on "+n.ID(), func() bool {
			r1, ok1 := n.RetainedMessage("m/1")
			r2, ok2 := n.RetainedMessage("m/2")
			return ok1 && ok2 && string(r1.Payload) == "one" && string(r2.Payload) == "two" && r2.Node == follower.ID()
		})
	}

	// Lose the leader: the others elect one and still agree.
	var leader *Node
	var rest []*Node
	for _, n := range nodes {
		if n.Status().State == "Leader" {
			leader = n
		} else {
			rest = append(rest, n)
		}
	}
	leader.Close()
	testutil.WaitWithin(t, testWait, "a new leader", func() bool { l := leaderOf(rest...); return l != "" && l != leader.ID() })
	if _, err := rest[0].Claim(ctx, "client-2"); err != nil {
		t.Fatalf("Claim after losing the leader: %v", err)
	}
}

// TestOtherClusterNeverJoins checks that a node of another cluster name
// cannot join.
func TestOtherClusterNeverJoins(t *testing.T) {
	t.Parallel()
	a, _ := startNode(t, "one", "a", t.TempDir(), 1)
	testutil.WaitWithin(t, testWait, "a single-node leader", func() bool { return a.Status().State == "Leader" })
	x, _ := startNode(t, "two", "x", t.TempDir(), 1, a.GossipAddr())
	testutil.WaitWithin(t, testWait, "x leading its own cluster", func() bool { return x.Status().State == "Leader" })
	if _, err := x.ml.Join([]string{a.GossipAddr()}); err == nil {
		t.Errorf("a node of cluster %q joined one of cluster %q", "two", "one")
	}
	for _, m := range a.Status().Members {
		if m.ID == "x" {
			t.Errorf("cluster one lists x: %+v", a.Status().Members)
		}
	}
	if a.ml.NumMembers() != 1 || x.ml.NumMembers() != 1 {
		t.Errorf("members: %d and %d, want 1 each", a.ml.NumMembers(), x.ml.NumMembers())
	}
}

// TestRestartKeepsState checks a node restarted on its data directory: it
// restores the state (from its log and from a snapshot) and its claims of
// an earlier life are dropped.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	a, _ := startNode(t, "c", "a", dir, 1)
	testutil.WaitWithin(t, testWait, "a single-node leader", func() bool { return a.Status().State == "Leader" })
	if _, err := a.Claim(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := a.Retain(ctx, Retained{Topic: fmt.Sprintf("t/%d", i), Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Retain(ctx, Retained{Topic: "t/0"}); err != nil { // delete
		t.Fatal(err)
	}
	if err := a.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if err := a.Retain(ctx, Retained{Topic: "t/after", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	a2, _ := startNode(t, "c", "a", dir, 1)
	testutil.WaitWithin(t, testWait, "the restarted node leading", func() bool { return a2.Status().State == "Leader" })
	testutil.WaitWithin(t, testWait, "the earlier life's claim dropped", func() bool { _, ok := a2.Owner("mine"); return !ok })
	var topics []string
	a2.RetainedMessages(func(r Retained) bool { topics = append(topics, r.Topic); return true })
	slices.Sort(topics)
	want := []string{"t/1", "t/2", "t/3", "t/4", "t/5", "t/6", "t/7", "t/8", "t/9", "t/after"}
	if !slices.Equal(topics, want) {
		t.Errorf("retained after restart: %v, want %v", topics, want)
	}
	if _, err := a2.Claim(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
}

// TestUnavailableWithoutQuorum checks that a node that cannot reach a
// leader refuses a claim with ErrUnavailable once its deadline passes.
func TestUnavailableWithoutQuorum(t *testing.T) {
	t.Parallel()
	a, _ := startNode(t, "c", "a", t.TempDir(), 2) // waits for a second node forever
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := a.Claim(ctx, "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Claim without a cluster = %v, want ErrUnavailable", err)
	}
}

// TestLateNodeGetsSnapshot checks a node that joins after the log was
// compacted: it receives the leader's snapshot and restores the whole state
// from it.
func TestLateNodeGetsSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tune := func(c *raft.Config) { c.TrailingLogs = 1; c.SnapshotThreshold = 1 }
	start := func(id string, expect int, join ...string) *Node {
		n, err := Start(ctx, Config{Name: "s", NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0", Join: join,
			BootstrapExpect: expect, DataDir: t.TempDir(), Logger: testLogger(t, id), tune: tune})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start("a", 1)
	testutil.WaitWithin(t, testWait, "a leading", func() bool { return a.Status().State == "Leader" })
	for i := range 20 {
		if err := a.Retain(ctx, Retained{Topic: fmt.Sprintf("r/%d", i), Payload: []byte("p")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Claim(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := a.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	b := start("b", 0, a.GossipAddr())
	testutil.WaitWithin(t, testWait, "b with the whole state", func() bool { s := b.Status(); return s.Retained == 20 && s.Owners == 1 })
	if o, _ := b.Owner("c"); o != "a" {
		t.Errorf("b says c is owned by %q, want a", o)
	}
}

// TestReapAndDropClaims checks what the leader does about a voter that
// leaves: its claims are dropped at once, and it is removed from raft
// after ReapTimeout.
func TestReapAndDropClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := func(id string, join ...string) *Node {
		n, err := Start(ctx, Config{Name: "r", NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0", Join: join,
			BootstrapExpect: 1, DataDir: t.TempDir(), Logger: testLogger(t, id), ReapTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start("a")
	testutil.WaitWithin(t, testWait, "a leading", func() bool { return a.Status().State == "Leader" })
	b := start("b", a.GossipAddr())
	testutil.WaitWithin(t, testWait, "b a voter", func() bool { return slices.Equal(voters(a), []string{"a", "b"}) })
	if _, err := b.Claim(ctx, "on-b"); err != nil {
		t.Fatal(err)
	}
	// Two voters: a needs b for a quorum. Add c first, so that a and c
	// remain a majority of three when b goes.
	c := start("c", a.GossipAddr())
	testutil.WaitWithin(t, testWait, "c a voter", func() bool { return slices.Equal(voters(a), []string{"a", "b", "c"}) })
	b.Close()
	testutil.WaitWithin(t, testWait, "b's claims dropped", func() bool { _, ok := a.Owner("on-b"); return !ok })
	testutil.WaitWithin(t, testWait, "b removed from the voters", func() bool { return slices.Equal(voters(a), []string{"a", "c"}) })
	testutil.WaitWithin(t, testWait, "c sees b removed", func() bool { return slices.Equal(voters(c), []string{"a", "c"}) })
}

// TestBroadcast checks the forwarding streams: every frame reaches every
// other node, in order, and a node's frames stop at a closed node.
func TestBroadcast(t *testing.T) {
	t.Parallel()
	type got struct {
		mu     sync.Mutex // guards frames
		frames []string
	}
	start := func(id string, g *got, join ...string) *Node {
		n, err := Start(context.Background(), Config{Name: "f", NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0", Join: join,
			BootstrapExpect: 3, DataDir: t.TempDir(), Logger: testLogger(t, id),
			OnFrame: func(from string, f []byte) {
				g.mu.Lock()
				g.frames = append(g.frames, from+":"+string(f))
				g.mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	var ga, gb, gc got
	a := start("a", &ga)
	b := start("b", &gb, a.GossipAddr())
	c := start("c", &gc, a.GossipAddr())
	connected := func(n *Node, k int) bool {
		s := n.Status()
		up := 0
		for _, p := range s.Peers {
			if p.Connected {
				up++
			}
		}
		return up == k
	}
	for _, n := range []*Node{a, b, c} {
		testutil.WaitWithin(t, testWait, "two streams from "+n.ID(), func() bool { return connected(n, 2) })
	}
	const frames = 1000
	for i := range frames {
		if k := a.Broadcast([]byte(fmt.Sprint(i))); k != 2 {
			t.Fatalf("Broadcast queued for %d peers, want 2", k)
		}
	}
	b.Broadcast([]byte("from b"))
	for _, g := range []*got{&gb, &gc} {
		fromA := func() []string {
			g.mu.Lock()
			defer g.mu.Unlock()
			var out []string
			for _, f := range g.frames {
				if strings.HasPrefix(f, "a:") {
					out = append(out, f)
				}
			}
			return out
		}
		testutil.WaitWithin(t, testWait, "every frame", func() bool { return len(fromA()) >= frames })
		for i, f := range fromA() {
			if f != fmt.Sprintf("a:%d", i) {
				t.Errorf("frame %d = %q, want a's frames in order", i, f)
				break
			}
		}
	}
	testutil.WaitWithin(t, testWait, "b's frame at a and c", func() bool {
		for _, g := range []*got{&ga, &gc} {
			g.mu.Lock()
			ok := slices.Contains(g.frames, "b:from b")
			g.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	c.Close()
	testutil.WaitWithin(t, testWait, "a's stream to c gone", func() bool { return len(a.Status().Peers) == 1 })
	if k := a.Broadcast([]byte("x")); k != 1 {
		t.Errorf("Broadcast after c left queued for %d peers, want 1", k)
	}
}

// benchLeader starts a single-node cluster for a benchmark and waits until
// it leads; the node is closed when the benchmark ends.
func benchLeader(b *testing.B) *Node {
	n, err := Start(context.Background(), Config{Name: "b", NodeID: "a", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		BootstrapExpect: 1, DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	testutil.WaitWithin(b, testWait, "a leading", func() bool { return n.Status().State == "Leader" })
	return n
}

// BenchmarkClaim measures a claim's trip through raft on a single-node
// cluster (one bbolt commit, fsynced, per claim; concurrent claims share
// raft's batches).
func BenchmarkClaim(b *testing.B) {
	n := benchLeader(b)
	for _, par := range []int{1, 64} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(par)
			var i atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := n.Claim(context.Background(), fmt.Sprint("c", i.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestMinorityRefusesAndHeals checks that a node left without a majority
// refuses claims (ErrUnavailable), and claims again once a second voter
// is back with its data directory: the state agreed before is still there.
func TestMinorityRefusesAndHeals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	port := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	type spec struct{ id, listen, dir string }
	specs := []spec{{"a", port(), t.TempDir()}, {"b", port(), t.TempDir()}, {"c", port(), t.TempDir()}}
	start := func(s spec, join ...string) *Node {
		n, err := Start(ctx, Config{Name: "m", NodeID: s.id, Listen: s.listen, Gossip: "127.0.0.1:0", Join: join,
			BootstrapExpect: 3, DataDir: s.dir, Logger: testLogger(t, s.id)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := start(specs[0])
	b := start(specs[1], a.GossipAddr())
	c := start(specs[2], a.GossipAddr())
	testutil.WaitWithin(t, testWait, "a leader", func() bool { return leaderOf(a, b, c) != "" })
	if _, err := b.Claim(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	c.Close()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := a.Claim(short, "alone"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Claim on a minority = %v, want ErrUnavailable", err)
	}
	b2 := start(specs[1], a.GossipAddr())
	testutil.WaitWithin(t, testWait, "a leader of a and b", func() bool { return leaderOf(a, b2) != "" })
	if _, err := a.Claim(ctx, "healed"); err != nil {
		t.Fatalf("Claim after the majority is back: %v", err)
	}
	// b's claim was dropped when b left (its connections are gone); the
	// ids claimed since are agreed by both.
	testutil.WaitWithin(t, testWait, "the claim on b", func() bool { o, ok := b2.Owner("healed"); return ok && o == "a" })
}

// TestStartErrors checks that Start refuses a bad configuration and a
// port in use, and releases what it opened: the data directory can be
// used again at once.
func TestStartErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	base := Config{Name: "e", NodeID: "a", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0", BootstrapExpect: 1, DataDir: dir}
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Name = "" }, "no cluster name"},
		{func(c *Config) { c.BootstrapExpect = 0 }, "neither bootstrap_expect nor a join address"},
		{func(c *Config) { c.Listen = "nowhere" }, "listen address"},
		{func(c *Config) { c.Listen = busy.Addr().String() }, "cluster: listen: "},
		{func(c *Config) { c.Gossip = busy.Addr().String() }, "cluster: gossip: "},
	} {
		cfg := base
		tc.change(&cfg)
		if n, err := Start(ctx, cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			if n != nil {
				n.Close()
			}
			t.Errorf("Start = %v, want an error with %q", err, tc.want)
		}
	}
	n, err := Start(ctx, base) // the bbolt file is not held by a failed Start
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
}

// BenchmarkRetain measures retained messages of 100 bytes agreed one at a
// time and in batches (one raft command each), on one node: ns/op is per
// message.
func BenchmarkRetain(b *testing.B) {
	n := benchLeader(b)
	payload := make([]byte, 100)
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			batch := make([]Retained, size)
			for i := 0; i < b.N; i += size {
				for j := range batch {
					batch[j] = Retained{Topic: fmt.Sprintf("t/%d", (i+j)%10000), Payload: payload}
				}
				if err := n.Retain(context.Background(), batch...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
