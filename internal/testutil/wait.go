package testutil

import (
	"net"
	"testing"
	"time"
)

// WaitTimeout bounds WaitFor. It is generous because a loaded machine (CI
// with both cores busy) can be slow; a passing test never waits that long.
const WaitTimeout = 15 * time.Second

// WaitFor polls cond every few milliseconds until it holds, and fails the
// test, naming what it waited for, if it does not hold within WaitTimeout.
// Tests wait on a condition with it instead of sleeping.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, WaitTimeout, what, cond)
}

// WaitWithin is WaitFor with a bound of its own, for conditions that take
// long by design (a cluster electing a leader, failure detection).
func WaitWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		<-tick.C
	}
}

// DialTCP opens a TCP connection to addr that speaks no protocol yet, for
// tests that write raw bytes, and closes it when the test ends.
func DialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}
