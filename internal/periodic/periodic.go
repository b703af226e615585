package periodic

import "time"

// Run calls fn after each wait() until stop is closed; wait is called
// before each round, fn and wait on the caller's goroutine.
func Run(stop <-chan struct{}, wait func() time.Duration, fn func()) {
	t := time.NewTimer(wait())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
			t.Reset(wait())
		}
	}
}
