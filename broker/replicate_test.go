package broker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// gatedReplicator is a Config.Replicate that holds each message until the
// test answers for it.
type gatedReplicator struct {
	mu      sync.Mutex // guards calls, answers
	calls   []string   // payloads, in call order
	answers map[string]chan error
}

func (g *gatedReplicator) answer(payload string) chan error {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := g.answers[payload]
	if ch == nil {
		ch = make(chan error, 1)
		g.answers[payload] = ch
	}
	return ch
}

func (g *gatedReplicator) replicate(ctx context.Context, m *broker.Message) error {
	g.mu.Lock()
	g.calls = append(g.calls, string(m.Payload))
	g.mu.Unlock()
	select {
	case err := <-g.answer(string(m.Payload)):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gatedReplicator) called(payload string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.calls {
		if c == payload {
			return true
		}
	}
	return false
}

// TestReplicateHook checks Config.Replicate, with each kind of store and
// without: a QoS 1 or 2 message is routed at once but acknowledged only
// once the hook returned, the acknowledgements keep the PUBLISH order
// (a QoS 1 message refused for its rights included), and an error closes
// the connection (MQTT 5: DISCONNECT 0x89) without acknowledging.
func TestReplicateHook(t *testing.T) {
	run := func(t *testing.T, st broker.Store) {
		g := &gatedReplicator{answers: make(map[string]chan error)}
		cfg := open()
		cfg.Store = st
		cfg.Replicate = g.replicate
		cfg.Authorizers = []broker.Authorizer{rules(func(_ *broker.Client, topic string, _ broker.Access) bool { return topic != "denied" })}
		b := start(t, cfg)
		sub := subscriber(t, b, packet.Version5, "sub", "t/#", 2)
		p := connect(t, b, packet.Version5, "pub")

		p.Send(&packet.Publish{Topic: "t/a", Payload: []byte("a"), QoS: 1, PacketID: 1})
		p.Send(&packet.Publish{Topic: "t/b", Payload: []byte("b"), QoS: 2, PacketID: 2})
		p.Send(&packet.Publish{Topic: "denied", Payload: []byte("x"), QoS: 1, PacketID: 3})
		ackAll(t, sub, expectPublish(t, sub, "t/a", "a"))
		testutil.WaitFor(t, "the hook called for a", func() bool { return g.called("a") })
		p.ExpectNothing(200 * time.Millisecond) // a waits for the hook, b and the refused one for a
		g.answer("a") <- nil
		expectAck(t, p, packet.TypePuback, 1)
		testutil.WaitFor(t, "the hook called for b", func() bool { return g.called("b") })
		g.answer("b") <- nil
		expectAck(t, p, packet.TypePubrec, 2)
		if a := expectAck(t, p, packet.TypePuback, 3); a.ReasonCode != packet.NotAuthorized {
			t.Errorf("PUBACK of the refused message %v, want 0x87", a.ReasonCode)
		}
		p.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: 2})
		expectAck(t, p, packet.TypePubcomp, 2)
		if g.called("x") {
			t.Error("the hook was called for a refused message")
		}

		g.answer("c") <- errors.New("no majority")
		p.Send(&packet.Publish{Topic: "t/c", Payload: []byte("c"), QoS: 1, PacketID: 4})
		expectDisconnect(t, p, packet.ServerBusy)
	}
	t.Run("no store", func(t *testing.T) { run(t, nil) })
	storeKinds(t, func(t *testing.T, _ string, open func() broker.Store) { run(t, open()) })
}

// TestReplicateHookV311 checks that an MQTT 3.1.1 client whose message
// the hook refuses is disconnected without a PUBACK, and that its
// reconnection and resend are acknowledged once the hook agrees.
func TestReplicateHookV311(t *testing.T) {
	g := &gatedReplicator{answers: make(map[string]chan error)}
	cfg := open()
	cfg.Replicate = g.replicate
	b := start(t, cfg)
	p := connect(t, b, packet.Version311, "pub")
	g.answer("m") <- errors.New("timeout")
	p.Send(&packet.Publish{Topic: "t", Payload: []byte("m"), QoS: 1, PacketID: 1})
	for _, pk := range p.ExpectClosed() {
		t.Errorf("got %v before the close, want nothing", pk.Type())
	}
	p = connect(t, b, packet.Version311, "pub")
	g.answer("m") <- nil
	p.Send(&packet.Publish{Topic: "t", Payload: []byte("m"), QoS: 1, PacketID: 1, Dup: true})
	expectAck(t, p, packet.TypePuback, 1)
}

// TestRouteAsync checks Server.RouteAsync: the message reaches the
// subscribers (an offline persistent one through the store) and done
// reports the outcome; an invalid topic is refused.
func TestRouteAsync(t *testing.T) {
	storeKinds(t, func(t *testing.T, _ string, open func() broker.Store) {
		st := open()
		b := startStore(t, st)
		cp := offline(t, b, "p", "r/#", 2)
		live := subscriber(t, b, packet.Version5, "live", "r/#", 2)
		done := make(chan error, 1)
		b.Server.RouteAsync(&broker.Message{Topic: "r/1", Payload: []byte("x"), QoS: 2, Publisher: "elsewhere"}, func(err error) { done <- err })
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(testutil.WaitTimeout):
			t.Fatal("done not called")
		}
		ackAll(t, live, expectPublish(t, live, "r/1", "x"))
		c, _ := connectWith(t, b, cp)
		ackAll(t, c, expectPublish(t, c, "r/1", "x"))
		b.Server.RouteAsync(&broker.Message{Topic: "r/#"}, func(err error) { done <- err })
		if err := <-done; !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("RouteAsync on a filter: %v, want ErrInvalidTopic", err)
		}
	})
}
