package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// frames records what OnFrame receives.
type frames struct {
	mu   sync.Mutex // guards list
	list []string
}

func (f *frames) add(from string, b []byte) {
	f.mu.Lock()
	f.list = append(f.list, from+":"+string(b))
	f.mu.Unlock()
}

func (f *frames) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.list, s)
}

func (f *frames) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.list)
}

// nodeTLS returns the TLS configuration of a node with a certificate of p.
func nodeTLS(t *testing.T, p *testutil.PKI, id string) *tls.Config {
	t.Helper()
	c := p.Server(id)
	tc, err := TLSConfig(p.CAFile, c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// startTLSNode starts a node with tc (nil: plain TCP).
func startTLSNode(t *testing.T, tc *tls.Config, id string, expect int, join ...string) (*Node, *changes, *frames) {
	t.Helper()
	ch, fr := &changes{}, &frames{}
	n, err := Start(context.Background(), Config{Name: "tls", NodeID: id, Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		Join: join, BootstrapExpect: expect, DataDir: t.TempDir(), Logger: testLogger(t, id), OnChange: ch.add,
		OnFrame: fr.add, TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, ch, fr
}

// TestTLS forms a cluster over mutual TLS (raft, a follower's command
// forwarded to the leader, forwarding streams, the status API), and checks
// that a node with a certificate of another CA, or with none, joins the
// gossip but never becomes a voter, never learns a leader, cannot apply a
// command, receives no frames, and cannot read the status.
func TestTLS(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "cluster")
	a, _, fa := startTLSNode(t, nodeTLS(t, pki, "a"), "a", 3)
	b, _, fb := startTLSNode(t, nodeTLS(t, pki, "b"), "b", 3, a.GossipAddr())
	c, _, _ := startTLSNode(t, nodeTLS(t, pki, "c"), "c", 3, a.GossipAddr())
	nodes := []*Node{a, b, c}
	waitFormed(t, nodes...)
	var follower *Node
	for _, n := range nodes {
		if n.Status().State != "Leader" {
			follower = n
		}
	}
	ctx := context.Background()
	if cl, err := follower.Claim(ctx, "tls-client"); err != nil || cl.Previous != "" {
		t.Fatalf("Claim from follower %s = %+v, %v", follower.ID(), cl, err)
	}
	a.Broadcast([]byte("hello"))
	testutil.WaitWithin(t, testWait, "a frame from a on b", func() bool { return fb.has("a:hello") })
	b.Broadcast([]byte("back"))
	testutil.WaitWithin(t, testWait, "a frame from b on a", func() bool { return fa.has("b:back") })

	s, err := FetchStatusTLS(ctx, nodeTLS(t, pki, "cli"), a.Addr())
	if err != nil || s.NodeID != "a" || len(s.Members) != 3 {
		t.Fatalf("FetchStatusTLS = %+v, %v", s, err)
	}
	if _, err := FetchStatus(ctx, nil, a.Addr()); err == nil {
		t.Fatal("plain HTTP status on a TLS cluster port succeeded")
	}
	other := testutil.NewPKI(t, "other")
	if _, err := FetchStatusTLS(ctx, nodeTLS(t, other, "cli"), a.Addr()); err == nil {
		t.Fatal("status with a certificate of another CA succeeded")
	}

	for _, tc := range []struct {
		id  string
		tls *tls.Config
	}{{"foreign", nodeTLS(t, other, "foreign")}, {"plain", nil}} {
		bad, badCh, badFr := startTLSNode(t, tc.tls, tc.id, 0, a.GossipAddr())
		leader := nodes[slices.IndexFunc(nodes, func(n *Node) bool { return n.Status().State == "Leader" })]
		testutil.WaitWithin(t, testWait, tc.id+" alive in the leader's gossip", func() bool {
			for _, m := range leader.Status().Members {
				if m.ID == tc.id && m.State == "alive" {
					return true
				}
			}
			return false
		})
		a.Broadcast([]byte("secret-" + tc.id))
		testutil.WaitWithin(t, testWait, "the frame on b", func() bool { return fb.has("a:secret-" + tc.id) })
		// The leader's reconciler runs every second: while this claim
		// waits, it would have added the node as a voter.
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := bad.Claim(cctx, "stolen")
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Claim on %s = %v, want ErrUnavailable", tc.id, err)
		}
		for _, n := range nodes {
			if slices.Contains(voters(n), tc.id) {
				t.Fatalf("%s is a voter on %s", tc.id, n.ID())
			}
			if o, ok := n.Owner("stolen"); ok {
				t.Fatalf("stolen claimed by %s on %s", o, n.ID())
			}
		}
		if s := bad.Status(); s.Leader != "" || s.AppliedIndex != 0 {
			t.Fatalf("%s knows leader %q, applied %d", tc.id, s.Leader, s.AppliedIndex)
		}
		if badCh.has(func(Change) bool { return true }) || badFr.len() != 0 {
			t.Fatalf("%s received changes or frames", tc.id)
		}
		bad.Close()
	}
}

// TestTLSBootstrap checks that a member without a certificate of the CA,
// seen in the gossip while a cluster forms, is neither among the voters it
// bootstraps with (its id sorts first) nor stops the bootstrap.
func TestTLSBootstrap(t *testing.T) {
	t.Parallel()
	pki := testutil.NewPKI(t, "cluster")
	a, _, _ := startTLSNode(t, nodeTLS(t, pki, "a"), "a", 3)
	bad, _, _ := startTLSNode(t, nodeTLS(t, testutil.NewPKI(t, "other"), "0bad"), "0bad", 3, a.GossipAddr())
	testutil.WaitWithin(t, testWait, "the intruder in a's gossip", func() bool {
		return slices.ContainsFunc(a.Status().Members, func(m MemberStatus) bool { return m.ID == "0bad" && m.State == "alive" })
	})
	b, _, _ := startTLSNode(t, nodeTLS(t, pki, "b"), "b", 3, a.GossipAddr())
	c, _, _ := startTLSNode(t, nodeTLS(t, pki, "c"), "c", 3, a.GossipAddr())
	nodes := []*Node{a, b, c}
	waitFormed(t, nodes...)
	for _, n := range nodes {
		if v := voters(n); slices.Contains(v, "0bad") {
			t.Errorf("voters on %s: %v", n.ID(), v)
		}
	}
	if s := bad.Status(); s.Leader != "" {
		t.Errorf("the intruder knows leader %q", s.Leader)
	}
}
