package bufpool

import "testing"

// The pool hands back what it kept, keeps at most n buffers, and drops
// buffers of another size.
func TestPool(t *testing.T) {
	p := New(1, 8)
	a, b := p.Get(), p.Get()
	if len(a) != 8 || len(b) != 8 {
		t.Fatalf("buffers of %d and %d bytes, want 8", len(a), len(b))
	}
	a[0] = 42
	p.Put(a[:3])
	p.Put(b) // full: dropped
	p.Put(make([]byte, 4, 16))
	if got := p.Get(); len(got) != 8 || got[0] != 42 {
		t.Errorf("Get after Put = %v, want the kept buffer at full length", got)
	}
	if got := p.Get(); got[0] != 0 {
		t.Error("second Get returned a kept buffer: the pool kept more than 1")
	}
}
