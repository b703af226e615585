package broker_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"

	"go.uber.org/goleak"
)

// leakCheck notes the goroutines running now; calling the function it
// returns fails the test if others remain. Tests running in parallel must
// not use it.
func leakCheck(t *testing.T) func() {
	before := goleak.IgnoreCurrent()
	return func() {
		t.Helper()
		goleak.VerifyNone(t, before)
	}
}

// Idle connections park: once quiet, a connected, subscribed client holds
// no goroutine in the broker, and it still gets its messages and answers.
func TestIdleConnectionsHoldNoGoroutines(t *testing.T) {
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited})
	base := runtime.NumGoroutine()
	var cs []*testutil.Client
	for i := range 50 {
		c := connect(t, b, byte(4+i%2), fmt.Sprint("idle", i))
		c.Subscribe(1, fmt.Sprint("idle/", i), 1)
		cs = append(cs, c)
	}
	// Parked, the 50 connections leave at most the poller's goroutine.
	deadline := time.Now().Add(testutil.Timeout)
	for runtime.NumGoroutine() > base+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for 50 idle connections, want at most 1", runtime.NumGoroutine()-base)
		}
		time.Sleep(5 * time.Millisecond) // polling for the condition
	}
	p := connect(t, b, packet.Version5, "pub")
	pub(t, p, 1, "idle/7", "wake", 1, false)
	expectPublish(t, cs[7], "idle/7", "wake")
	ping(t, cs[8])
}
