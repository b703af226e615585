package periodic

import (
	"testing"
	"time"
)

// Run runs fn once per wait, asks wait again each round, and returns once
// stop is closed.
func TestRun(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	waits, runs := 0, 0
	go func() {
		defer close(done)
		Run(stop, func() time.Duration { waits++; return time.Millisecond }, func() {
			if runs++; runs == 3 {
				close(stop)
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after stop")
	}
	if runs != 3 || waits != 4 {
		t.Errorf("%d runs, %d waits; want 3 and 4", runs, waits)
	}
}
