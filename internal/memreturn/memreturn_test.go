package memreturn

import (
	"testing"
	"time"
)

// returned reports whether a return of memory has run.
func (r *Returner) returned() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.last.IsZero()
}

// A burst of Burst connections has its memory returned once no connection
// came for Settle; fewer connections do not.
func TestBurstReturns(t *testing.T) {
	var r Returner
	for range Burst - 1 {
		r.Connected()
	}
	if r.watching.Load() {
		t.Fatal("watching for a burst before Burst connections")
	}
	start := time.Now()
	r.Connected()
	deadline := start.Add(10 * time.Second)
	for !r.returned() {
		if time.Now().After(deadline) {
			t.Fatal("the burst's memory was not returned")
		}
		time.Sleep(10 * time.Millisecond) // polling for the condition, with a deadline
	}
	if d := time.Since(start); d < Settle {
		t.Errorf("returned %v after the last connection, before it settled (%v)", d, Settle)
	}
	if r.watching.Load() || r.conns.Load() != 0 {
		t.Error("the burst was not reset after its return")
	}
}
