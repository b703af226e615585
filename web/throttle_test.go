package web

import (
	"strconv"
	"testing"
	"time"
)

// The waits double from firstWait up to maxWait, and are forgotten
// forgetAfter after the last failure.
func TestThrottleBackoff(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now })
	var waits []time.Duration
	for range freeUserFailures + 9 {
		waits = append(waits, th.fail("user alice"))
	}
	want := []time.Duration{0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if waits[i] != w*time.Second {
			t.Fatalf("waits %v, want %v seconds", waits, want)
		}
	}
	if d := th.wait("addr 192.0.2.1", "user alice"); d != maxWait {
		t.Errorf("wait %v", d)
	}
	now = now.Add(forgetAfter + maxWait + time.Second)
	if d := th.wait("user alice"); d != 0 {
		t.Errorf("wait after forgetAfter: %v", d)
	}
	if d := th.fail("user alice"); d != 0 {
		t.Errorf("first failure after forgetAfter waits %v", d)
	}
}

// The table never holds more than maxThrottleKeys keys.
func TestThrottleBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottle(func() time.Time { return now })
	for i := range maxThrottleKeys + 20 {
		now = now.Add(time.Millisecond)
		th.fail("user u" + strconv.Itoa(i))
	}
	if n := len(th.m); n > maxThrottleKeys {
		t.Errorf("%d keys", n)
	}
	if th.m["user u"+strconv.Itoa(maxThrottleKeys+19)] == nil {
		t.Error("the newest key was not kept")
	}
}
