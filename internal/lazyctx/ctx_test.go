package lazyctx

import (
	"context"
	"errors"
	"testing"
	"time"
)

func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
}

func TestCancelBeforeAndAfterDone(t *testing.T) {
	var a Ctx
	a.Init(context.Background())
	if a.Err() != nil {
		t.Fatal("Err before Cancel")
	}
	a.Cancel()
	waitDone(t, &a)
	if !errors.Is(a.Err(), context.Canceled) {
		t.Fatalf("Err = %v", a.Err())
	}

	var b Ctx
	b.Init(context.Background())
	d := b.Done()
	select {
	case <-d:
		t.Fatal("Done closed before Cancel")
	default:
	}
	b.Cancel()
	b.Cancel() // twice is harmless
	waitDone(t, &b)
	if !errors.Is(b.Err(), context.Canceled) {
		t.Fatalf("Err = %v", b.Err())
	}
}

func TestParentEnds(t *testing.T) {
	for _, waitFirst := range []bool{false, true} {
		parent, cancel := context.WithTimeout(context.Background(), time.Hour)
		var c Ctx
		c.Init(parent)
		if waitFirst {
			c.Done()
		}
		cancel()
		waitDone(t, &c)
		if !errors.Is(c.Err(), context.DeadlineExceeded) && !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("waitFirst %v: Err = %v", waitFirst, c.Err())
		}
	}
	// A context derived from it ends with it.
	var c Ctx
	c.Init(context.Background())
	child, stop := context.WithCancel(&c)
	defer stop()
	c.Cancel()
	waitDone(t, child)
}

func TestValueAndDeadline(t *testing.T) {
	type key struct{}
	dl := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, 7), dl)
	defer cancel()
	var c Ctx
	c.Init(parent)
	if got, ok := c.Deadline(); !ok || !got.Equal(dl) {
		t.Fatalf("Deadline = %v %v", got, ok)
	}
	if c.Value(key{}) != 7 {
		t.Fatalf("Value = %v", c.Value(key{}))
	}
}

// TestParentWatchStopped: a context cancelled before its parent leaves no
// watch on the parent behind.
func TestParentWatchStopped(t *testing.T) {
	var c Ctx
	c.Init(t.Context())
	c.Done()
	c.Cancel()
	if c.w.stop() {
		t.Fatal("watch on the parent kept")
	}
}

// TestCause: context.Cause sees the Ctx's own end, not its live parent's
// lack of one.
func TestCause(t *testing.T) {
	var c Ctx
	c.Init(t.Context())
	c.Cancel()
	if err := context.Cause(&c); !errors.Is(err, context.Canceled) {
		t.Fatalf("Cause = %v, want context.Canceled", err)
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err = %v", c.Err())
	}
}
