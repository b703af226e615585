package broker

import "github.com/midge-mqtt/midge/packet"

// readBufferSize is a connection's read buffer: CONNECT, SUBSCRIBE and
// typical PUBLISHes fit, larger packets are read separately.
const readBufferSize = packet.DefaultReadBufferSize

// bufPool is a bounded free list of read buffers shared by a server's
// connections: a connection holds one only while it reads, so a burst of
// connections reuses a few instead of leaving one per connection to the
// garbage collector. It keeps at most cap(free) buffers.
type bufPool struct {
	free chan []byte
}

func newBufPool(n int) *bufPool { return &bufPool{free: make(chan []byte, n)} }

// Get returns a free buffer or a new one.
func (p *bufPool) Get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, readBufferSize)
	}
}

// Put keeps b for reuse, or drops it if the list is full.
func (p *bufPool) Put(b []byte) {
	if cap(b) != readBufferSize {
		return
	}
	select {
	case p.free <- b[:readBufferSize]:
	default:
	}
}
