package broker_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// stuck is an Authorizer that, on topic "stuck", blocks until its context
// is cancelled (a remote authorization service that hangs), then refuses.
type stuck struct {
	in        chan struct{} // closed when the authorization starts
	cancelled atomic.Bool
}

func (s *stuck) Authorize(ctx context.Context, _ *broker.Client, topic string, _ broker.Access) broker.Verdict {
	if topic != "stuck" {
		return broker.Allow
	}
	close(s.in)
	select {
	case <-ctx.Done():
		s.cancelled.Store(true)
	case <-time.After(3 * testutil.Timeout):
	}
	return broker.Deny
}

// A connection's context is cancelled when the connection closes: an
// authorization hanging on its behalf ends with it, and Shutdown is not
// held up by it.
func TestConnContextCancelledOnClose(t *testing.T) {
	az := &stuck{in: make(chan struct{})}
	b := start(t, broker.Config{AllowAnonymous: true, Authorizers: []broker.Authorizer{az}})
	c := connect(t, b, packet.Version311, "c")
	c.Send(&packet.Publish{Topic: "stuck", QoS: 1, PacketID: 1, Payload: []byte("x")})
	select {
	case <-az.in:
	case <-time.After(testutil.Timeout):
		t.Fatal("no authorization")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !az.cancelled.Load() {
		t.Fatal("the authorization did not see its connection's context cancelled")
	}
}

// blocking is a Store whose commits hang, once block is set, until their
// context is cancelled.
type blocking struct {
	broker.Store
	block   atomic.Bool
	waiting chan struct{} // closed when a commit hangs
	once    atomic.Bool
}

func (s *blocking) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	if s.block.Load() {
		if s.once.CompareAndSwap(false, true) {
			close(s.waiting)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * testutil.Timeout):
			return errors.New("not cancelled")
		}
	}
	return s.Store.Commit(ctx, b, sync)
}

// Shutdown keeps to its deadline when the Store hangs: the commit in
// progress is cancelled and Shutdown returns the context's error.
func TestShutdownDeadlineWithHungStore(t *testing.T) {
	st := &blocking{Store: store.NewMemory(), waiting: make(chan struct{})}
	b := startStore(t, st)
	subscribed(t, b, hourSession("sub"), "t", 1)
	p := connect(t, b, 5, "p")
	st.block.Store(true)
	p.Send(&packet.Publish{Topic: "t", QoS: 1, PacketID: 1, Payload: []byte("x")})
	select {
	case <-st.waiting:
	case <-time.After(testutil.Timeout):
		t.Fatal("no commit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline's error", err)
	}
	if d := time.Since(start); d > testutil.Timeout {
		t.Errorf("Shutdown took %v past a 200ms deadline", d)
	}
}

// Close stops the server at once: clients are cut off without DISCONNECT
// and Serve returns.
func TestClose(t *testing.T) {
	b := start(t, open())
	c5 := connect(t, b, packet.Version5, "c5")
	c4 := connect(t, b, packet.Version311, "c4")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, c := range []*testutil.Client{c5, c4} {
		if got := c.ExpectClosed(); len(got) != 0 {
			t.Errorf("got %v before the close, want nothing", got)
		}
	}
	if _, err := net.Dial("tcp", b.Addr); err == nil {
		t.Error("the listener still accepts after Close")
	}
}

// After Close no will is published: the connections it cuts end without
// their wills going out.
func TestCloseDropsWills(t *testing.T) {
	b := start(t, open())
	var wills atomic.Int32
	remove := b.Observe(func(m *broker.Message) {
		if m.Topic == "will/w" {
			wills.Add(1)
		}
	})
	defer remove()
	connectWith(t, b, willConnect(packet.Version5, "w", 0, 0))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil { // waits for the connections to end
		t.Fatal(err)
	}
	if n := wills.Load(); n != 0 {
		t.Fatalf("%d wills published after Close", n)
	}
}
