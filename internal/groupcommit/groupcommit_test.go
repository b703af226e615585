package groupcommit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

type batch struct{ ops []int }

func funcs(mu *sync.Mutex, commits *[][]int, fail *bool) Funcs[batch] {
	return Funcs[batch]{
		Commit: func(b *batch) error {
			mu.Lock()
			defer mu.Unlock()
			*commits = append(*commits, slices.Clone(b.ops))
			if *fail {
				return errors.New("disk full")
			}
			return nil
		},
		Empty:   func(b *batch) bool { return len(b.ops) == 0 },
		Recycle: func(b *batch) { b.ops = b.ops[:0] },
	}
}

// Completions run in the order of Add, after their changes are committed,
// with the commit's outcome; a fence splits commits; after Close adds fail
// with the closed error.
func TestCommitter(t *testing.T) {
	var mu sync.Mutex
	var commits [][]int
	fail := false
	closed := errors.New("closed")
	c := New(0, closed, funcs(&mu, &commits, &fail))

	var order []int
	var omu sync.Mutex
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		c.Add(func(b *batch) { b.ops = append(b.ops, i) }, func(err error) {
			if err != nil {
				t.Errorf("add %d: %v", i, err)
			}
			omu.Lock()
			order = append(order, i)
			omu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	if !slices.Equal(order, []int{0, 1, 2, 3, 4}) {
		t.Errorf("completions ran in order %v", order)
	}

	mu.Lock()
	commits = nil
	fail = true
	mu.Unlock()
	fenced := make(chan error, 1)
	c.Add(func(b *batch) { b.ops = append(b.ops, 10) }, nil)
	c.Fence(func(err error) { fenced <- err })
	if err := c.Wait(func(b *batch) { b.ops = append(b.ops, 11) }); err == nil {
		t.Error("Wait after a failing commit returned nil")
	}
	if err := <-fenced; err == nil {
		t.Error("fence got nil from a failing commit")
	}
	mu.Lock()
	for _, b := range commits {
		if slices.Contains(b, 10) && slices.Contains(b, 11) {
			t.Errorf("changes on both sides of a fence committed together: %v", b)
		}
	}
	fail = false
	mu.Unlock()

	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); !errors.Is(err, closed) {
		t.Errorf("Flush after Close = %v, want the closed error", err)
	}
	got := make(chan error, 1)
	c.Add(nil, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, closed) {
		t.Errorf("Add after Close completed with %v", err)
	}
}
