package broker_test

import (
	"testing"

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
