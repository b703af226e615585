package packet_test

import (
	"bytes"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

type countingPool struct {
	size      int
	gets, put int
	free      [][]byte
}

func (p *countingPool) Get() []byte {
	p.gets++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, p.size)
}

func (p *countingPool) Put(b []byte) { p.put++; p.free = append(p.free, b) }

// A Reader with a BufferPool takes its buffer on the first read and gives it
// back on Release, and reads correctly with a reused buffer.
func TestReaderBufferPool(t *testing.T) {
	var wire []byte
	for i := range 3 {
		wire, _ = packet.Append(wire, &packet.Publish{Topic: "t", Payload: []byte{byte('a' + i)}}, 4)
	}
	pool := &countingPool{size: 64}
	src := bytes.NewReader(wire)
	r := packet.NewReader(src, 64)
	r.Version = 4
	r.SetBufferPool(pool)
	for i := range 3 {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(p.(*packet.Publish).Payload); got != string(rune('a'+i)) {
			t.Fatalf("packet %d: payload %q", i, got)
		}
		if r.Buffered() == 0 {
			if !r.Release() {
				t.Fatal("Release refused with nothing buffered")
			}
		}
	}
	if pool.gets != pool.put || pool.gets == 0 {
		t.Errorf("gets %d, puts %d", pool.gets, pool.put)
	}
}
