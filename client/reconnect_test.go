package client_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestReconnect breaks the connection of a clean-start subscriber: it
// reconnects, restores its subscription on the new session, and a publish
// started during the outage goes out once it is back.
func TestReconnect(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		ctx := testContext(t)
		topic := uniqueID("rc")
		tr := &connTracker{addr: srv.addr}
		in := newInbox()
		var lost, back atomic.Int32
		c, _ := dial(t, client.Options{Dial: tr.dial, ProtocolVersion: ver.v, ClientID: uniqueID("rc"), CleanStart: true,
			Reconnect: fastReconnect, OnMessage: in.handler,
			OnConnectionLost: func(err error) {
				if !errors.Is(err, client.ErrConnectionLost) {
					t.Errorf("OnConnectionLost(%v)", err)
				}
				lost.Add(1)
			},
			OnReconnect: func(ack *packet.Connack) {
				if ack.SessionPresent {
					t.Errorf("session present after clean start")
				}
				back.Add(1)
			}})
		if _, err := c.Subscribe(ctx, client.Subscription{Filter: topic + "/#", QoS: 1}); err != nil {
			t.Fatal(err)
		}
		tr.breakLast()
		// Published to itself: sent once the new connection is up,
		// and received through the restored subscription.
		if err := c.Publish(ctx, &client.Message{Topic: topic + "/self", QoS: 1, Payload: []byte("after")}); err != nil {
			t.Fatal(err)
		}
		if m := in.next(t); string(m.Payload) != "after" {
			t.Fatalf("got %q", m.Payload)
		}
		testutil.WaitFor(t, "callbacks", func() bool { return lost.Load() == 1 && back.Load() == 1 })
		if tr.count() != 2 || c.Err() != nil {
			t.Errorf("%d connections, Err %v", tr.count(), c.Err())
		}
	})
}

// TestReconnectGivesUp checks that reconnection is bounded: MaxAttempts
// failures in a row end the client, after backing off between attempts.
func TestReconnectGivesUp(t *testing.T) {
	t.Parallel()
	srv := servers(t, broker.Config{})[0]
	tr := &connTracker{addr: srv.addr}
	c, _ := dial(t, client.Options{Dial: tr.dial, Reconnect: &client.Reconnect{
		MinDelay: 20 * time.Millisecond, MaxDelay: 40 * time.Millisecond, MaxAttempts: 4}})
	tr.mu.Lock()
	tr.fail = true
	tr.mu.Unlock()
	start := time.Now()
	tr.breakLast()
	select {
	case <-c.Done():
	case <-time.After(timeout):
		t.Fatal("still reconnecting")
	}
	// Waits of at least 20, 40, 40 and 40 ms.
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("4 attempts in %v: no backoff", d)
	}
	if err := c.Err(); err == nil || errors.Is(err, client.ErrClosed) {
		t.Errorf("Err %v, want the dial error", err)
	}
}

// TestReconnectRefused checks that a CONNACK refusing the client for good
// ends reconnection at once.
func TestReconnectRefused(t *testing.T) {
	t.Parallel()
	fs := newFakeServer(t)
	c, rc, _ := fs.dial(client.Options{ClientID: "x", Reconnect: fastReconnect}, nil)
	rc.Close()
	fs.handshake(packet.Version311, &packet.Connack{ReasonCode: packet.ConnackV3NotAuthorized})
	<-c.Done()
	var ce *client.ConnectError
	if !errors.As(c.Err(), &ce) || ce.ReturnCode != packet.ConnackV3NotAuthorized {
		t.Fatalf("Err %v", c.Err())
	}
}

// TestCloseWhileReconnecting checks that Close stops reconnection.
func TestCloseWhileReconnecting(t *testing.T) {
	t.Parallel()
	srv := servers(t, broker.Config{})[0]
	tr := &connTracker{addr: srv.addr}
	c, _ := dial(t, client.Options{Dial: tr.dial, Reconnect: &client.Reconnect{MinDelay: time.Hour}})
	tr.breakLast()
	testutil.WaitFor(t, "disconnection", func() bool { return !c.Connected() })
	errc := make(chan error, 1)
	go func() { errc <- c.Publish(testContext(t), &client.Message{Topic: "a", QoS: 1}) }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Errorf("Err %v", c.Err())
	}
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Errorf("Publish waiting for the connection: %v", err)
	}
}
