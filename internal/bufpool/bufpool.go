package bufpool

// Pool is a bounded free list of buffers of one size: a connection holds
// one only while it reads, so a burst of connections reuses a few instead
// of leaving one per connection to the garbage collector. It keeps at most
// n buffers. It is safe for concurrent use.
type Pool struct {
	size int
	free chan []byte
}

// New returns a pool of buffers of size bytes that keeps at most n.
func New(n, size int) *Pool { return &Pool{size: size, free: make(chan []byte, n)} }

// Get returns a free buffer or a new one.
func (p *Pool) Get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, p.size)
	}
}

// Put keeps b for reuse, or drops it if the list is full or b is not one
// of the pool's size.
func (p *Pool) Put(b []byte) {
	if cap(b) != p.size {
		return
	}
	select {
	case p.free <- b[:p.size]:
	default:
	}
}
