package packet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/midge-mqtt/midge/packet"
)

// failReader fails the test if anyone reads from it: it stands for bytes the
// Reader must not touch.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("read beyond the fixed header")
	return 0, io.ErrClosedPipe
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMaxSizeDoesNotReadBody sends a header announcing 256 MB and nothing
// else: ReadPacket must return ErrTooLarge at once, having read only the
// header and allocated next to nothing.
func TestMaxSizeDoesNotReadBody(t *testing.T) {
	header := []byte{0x30, 0xff, 0xff, 0xff, 0x7f} // PUBLISH, remaining 268435455
	for _, rm := range readerMakers[:3] {          // DataErrReader reads ahead by itself
		for _, size := range bufSizes {
			t.Run(fmt.Sprintf("%s/buf=%d", rm.name, size), func(t *testing.T) {
				var err error
				var h packet.FixedHeader
				n := allocated(func() {
					src := &countingReader{r: io.MultiReader(bytes.NewReader(header), failReader{t})}
					r := packet.NewReader(rm.fn(src), size)
					r.MaxSize = 1 << 16
					_, err = r.ReadPacket()
					if src.n != len(header) {
						t.Errorf("read %d bytes, want the %d of the header", src.n, len(header))
					}
					src = &countingReader{r: io.MultiReader(bytes.NewReader(header), failReader{t})}
					r = packet.NewReader(rm.fn(src), size)
					r.MaxSize = 1 << 16
					h, _ = r.ReadHeader()
				})
				wantCode(t, err, packet.ErrTooLarge, packet.PacketTooLarge)
				if h.Remaining != packet.MaxRemainingLength || h.Type != packet.TypePublish {
					t.Errorf("ReadHeader returned %+v with ErrTooLarge", h)
				}
				if n > 64<<10 {
					t.Errorf("allocated %d bytes for a refused packet", n)
				}
			})
		}
	}
}

// TestMaxSizeBoundary checks that MaxSize counts the whole packet, fixed
// header included.
func TestMaxSizeBoundary(t *testing.T) {
	raw := pkt(0x30, str("t"), make([]byte, 200)) // 3 + 203 bytes: two-byte Remaining Length
	for _, c := range []struct {
		max int
		ok  bool
	}{{len(raw), true}, {len(raw) + 1, true}, {len(raw) - 1, false}, {0, true}} {
		r := packet.NewReader(bytes.NewReader(raw), 0)
		r.MaxSize = c.max
		_, err := r.ReadPacket()
		if c.ok && err != nil || !c.ok && !errors.Is(err, packet.ErrTooLarge) {
			t.Errorf("MaxSize %d, packet %d bytes: %v", c.max, len(raw), err)
		}
	}
}

// TestNoMaxSizeAllocatesWhatArrives sends a header announcing 256 MB and a
// few bytes with MaxSize 0 (the protocol maximum): the Reader must fail with
// io.ErrUnexpectedEOF without allocating for the announced size.
func TestNoMaxSizeAllocatesWhatArrives(t *testing.T) {
	raw := append([]byte{0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, 't'}, make([]byte, 100<<10)...)
	var err error
	n := allocated(func() {
		r := packet.NewReader(bytes.NewReader(raw), 0)
		_, err = r.ReadPacket()
	})
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadPacket: %v, want io.ErrUnexpectedEOF", err)
	}
	if n > 1<<20 {
		t.Fatalf("allocated %d bytes for %d bytes of input", n, len(raw))
	}
}

// TestLargeBody reads bodies larger than the read buffer in every way the
// source can deliver them, and checks that a Reader does not keep a huge
// body buffer afterwards.
func TestLargeBody(t *testing.T) {
	for _, size := range []int{100 << 10, 300 << 10, 1 << 20} {
		payload := bytes.Repeat([]byte{0xa5}, size)
		raw := appendOK(t, &packet.Publish{Topic: "big", Payload: payload}, packet.Version311)
		stream := cat(raw, []byte{0xc0, 0x00}) // and a PINGREQ after it
		for _, rm := range readerMakers {
			r := packet.NewReader(rm.fn(bytes.NewReader(stream)), 0)
			p, err := r.ReadPacket()
			if err != nil {
				t.Fatalf("%d bytes via %s: %v", size, rm.name, err)
			}
			if pub := p.(*packet.Publish); !bytes.Equal(pub.Payload, payload) {
				t.Fatalf("%d bytes via %s: payload differs", size, rm.name)
			}
			if _, body := packet.ReaderCaps(r); body > packet.MaxKeptBuffer {
				t.Errorf("Reader keeps a body buffer of %d bytes", body)
			}
			if p, err := r.ReadPacket(); err != nil || p.Type() != packet.TypePingreq {
				t.Fatalf("packet after the big one: %v, %v", p, err)
			}
		}
	}
}

// TestEagerBody checks that an Eager Reader reads a large body into one
// buffer of its size, allocated once, which it then hands over: the next
// large body gets a buffer of its own.
func TestEagerBody(t *testing.T) {
	const size = 4 << 20
	raw := appendOK(t, &packet.Publish{Topic: "big", Payload: bytes.Repeat([]byte{0x5a}, size)}, packet.Version311)
	stream := cat(raw, raw)
	for _, eager := range []bool{false, true} {
		r := packet.NewReader(bytes.NewReader(stream), 0)
		r.Eager = eager
		var b1 []byte
		n := allocated(func() {
			h, err := r.ReadHeader()
			if err == nil {
				b1, err = r.ReadBody(h)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		if eager && n > size+size/8 {
			t.Errorf("eager: allocated %d bytes for a %d-byte body, want one buffer of its size", n, len(b1))
		}
		if !eager && n < 3*size/2 {
			t.Errorf("not eager: allocated %d bytes for a %d-byte body: the buffer did not grow as input arrived", n, len(b1))
		}
		h, _ := r.ReadHeader()
		b2, err := r.ReadBody(h)
		if err != nil {
			t.Fatal(err)
		}
		if &b1[0] == &b2[0] || b1[len(b1)-1] != 0x5a {
			t.Errorf("eager %v: a large body was reused", eager)
		}
	}
}

// TestLargeBodyIsCallersWithLargeBuffer checks that a body larger than
// MaxKeptBody is the caller's even when it would fit the read buffer.
func TestLargeBodyIsCallersWithLargeBuffer(t *testing.T) {
	raw := appendOK(t, &packet.Publish{Topic: "big", Payload: bytes.Repeat([]byte{7}, 100<<10)}, packet.Version311)
	r := packet.NewReader(bytes.NewReader(cat(raw, raw)), 256<<10)
	h, _ := r.ReadHeader()
	b1, err := r.ReadBody(h)
	if err != nil {
		t.Fatal(err)
	}
	h, _ = r.ReadHeader()
	b2, err := r.ReadBody(h)
	if err != nil {
		t.Fatal(err)
	}
	if &b1[0] == &b2[0] || !bytes.Equal(b1, b2) {
		t.Fatal("a body larger than MaxKeptBody was overwritten by the next")
	}
}

// TestBodyBufferReused checks that a body larger than the read buffer but
// under the kept limit reuses the Reader's body buffer.
func TestBodyBufferReused(t *testing.T) {
	raw := appendOK(t, &packet.Publish{Topic: "t", Payload: make([]byte, 1000)}, packet.Version311)
	stream := bytes.Repeat(raw, 10)
	r := packet.NewReader(bytes.NewReader(stream), 64)
	h, err := r.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	b1, err := r.ReadBody(h)
	if err != nil || len(b1) != h.Remaining {
		t.Fatalf("ReadBody: %d bytes, %v", len(b1), err)
	}
	h, _ = r.ReadHeader()
	b2, err := r.ReadBody(h)
	if err != nil {
		t.Fatal(err)
	}
	if &b1[0] != &b2[0] {
		t.Error("second body did not reuse the body buffer")
	}
}

// TestRelease checks that Release drops the buffers only when nothing is
// buffered, and that the Reader works afterwards.
func TestRelease(t *testing.T) {
	ping := []byte{0xc0, 0x00}
	r := packet.NewReader(bytes.NewReader(cat(ping, ping, ping)), 0)
	if !r.Release() {
		t.Fatal("Release on a fresh Reader = false")
	}
	if _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != 4 {
		t.Fatalf("Buffered = %d, want 4", r.Buffered())
	}
	if r.Release() {
		t.Fatal("Release with 4 bytes buffered = true")
	}
	if buf, _ := packet.ReaderCaps(r); buf != packet.DefaultReadBufferSize {
		t.Fatalf("read buffer %d bytes, want %d", buf, packet.DefaultReadBufferSize)
	}
	r.ReadPacket()
	r.ReadPacket()
	if !r.Release() {
		t.Fatal("Release with nothing buffered = false")
	}
	if buf, body := packet.ReaderCaps(r); buf != 0 || body != 0 {
		t.Fatalf("after Release the Reader holds %d + %d bytes", buf, body)
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("after Release: %v, want io.EOF", err)
	}

	// Release between packets of a stream that is still flowing.
	src := bytes.NewReader(cat(ping, appendOK(t, &packet.Publish{Topic: "t", Payload: make([]byte, 5000)}, 4), ping))
	r = packet.NewReader(iotest.OneByteReader(src), 16)
	for i := range 3 {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !r.Release() {
			t.Fatalf("Release after packet %d (%v) = false with a one-byte source", i, p.Type())
		}
	}
}

// TestNewReaderSizes checks the buffer size rules of NewReader.
func TestNewReaderSizes(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, packet.DefaultReadBufferSize}, {-1, packet.DefaultReadBufferSize}, {1, 16}, {16, 16}, {17, 17}, {4096, 4096}} {
		r := packet.NewReader(bytes.NewReader([]byte{0xc0, 0x00}), c.in)
		if _, err := r.ReadPacket(); err != nil {
			t.Fatal(err)
		}
		if buf, _ := packet.ReaderCaps(r); buf != c.want {
			t.Errorf("NewReader(_, %d): buffer %d, want %d", c.in, buf, c.want)
		}
	}
}

// TestHeaderAtBufferEnd places a fixed header across the end of a 16-byte
// buffer at every offset, so that fill must compact the buffer.
func TestHeaderAtBufferEnd(t *testing.T) {
	second := appendOK(t, &packet.Publish{Topic: "x", Payload: make([]byte, 300)}, packet.Version311) // 3-byte header
	for pad := 0; pad < 20; pad++ {
		first := pkt(0x30, str("t"), make([]byte, pad))
		for _, rm := range readerMakers {
			r := packet.NewReader(rm.fn(bytes.NewReader(cat(first, second, first))), 16)
			ps, err := readAll(r)
			if err != io.EOF || len(ps) != 3 {
				t.Fatalf("pad %d via %s: %d packets, %v", pad, rm.name, len(ps), err)
			}
			if n := len(ps[1].(*packet.Publish).Payload); n != 300 {
				t.Fatalf("pad %d via %s: second payload %d bytes", pad, rm.name, n)
			}
		}
	}
}

// TestShortestRemainingLength checks [MQTT-1.5.5-1] on the Remaining
// Length: refused once the Reader knows the connection is MQTT 5, accepted
// before (3.1.1 has no such rule).
func TestShortestRemainingLength(t *testing.T) {
	long := []byte{0xc0, 0x80, 0x80, 0x00} // PINGREQ, remaining 0 in three bytes
	for _, v := range []byte{0, packet.Version31, packet.Version311} {
		r := packet.NewReader(bytes.NewReader(long), 0)
		r.Version = v
		if p, err := r.ReadPacket(); err != nil || p.Type() != packet.TypePingreq {
			t.Errorf("version %d: %v, %v", v, p, err)
		}
	}
	r := packet.NewReader(bytes.NewReader(long), 0)
	r.Version = packet.Version5
	_, err := r.ReadPacket()
	wantCode(t, err, packet.ErrMalformed, packet.MalformedPacket)
	// The longest allowed lengths of each size are fine in MQTT 5.
	for _, rl := range []uint32{0, 127, 128, 16383, 16384, 2097151, 2097152} {
		h := cat([]byte{0x30}, vbi(rl))
		r := packet.NewReader(io.MultiReader(bytes.NewReader(h), failReader{t}), 0)
		r.Version = packet.Version5
		r.MaxSize = 1
		got, err := r.ReadHeader()
		if !errors.Is(err, packet.ErrTooLarge) || got.Remaining != int(rl) {
			t.Errorf("remaining %d: %+v, %v", rl, got, err)
		}
		if got.Size() != len(h)+int(rl) {
			t.Errorf("remaining %d: Size %d, want %d", rl, got.Size(), len(h)+int(rl))
		}
	}
}

// zeroReader returns no data and no error, forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestNoProgress checks that a source that never delivers ends with
// io.ErrNoProgress instead of spinning.
func TestNoProgress(t *testing.T) {
	r := packet.NewReader(zeroReader{}, 0)
	if _, err := r.ReadPacket(); err != io.ErrNoProgress {
		t.Fatalf("header: %v, want io.ErrNoProgress", err)
	}
	big := []byte{0x30, 0x80, 0x40, 0x00, 0x01, 't'} // PUBLISH, remaining 8192
	r = packet.NewReader(io.MultiReader(bytes.NewReader(big), zeroReader{}), 0)
	if _, err := r.ReadPacket(); err != io.ErrNoProgress {
		t.Fatalf("body: %v, want io.ErrNoProgress", err)
	}
}

// TestReadErrorPassedThrough checks that an I/O error other than EOF is
// returned as it is, at every point of a packet.
func TestReadErrorPassedThrough(t *testing.T) {
	boom := errors.New("boom")
	raw := appendOK(t, &packet.Publish{Topic: "t", Payload: make([]byte, 5000)}, packet.Version311)
	for n := 0; n < len(raw); n += 97 {
		r := packet.NewReader(io.MultiReader(bytes.NewReader(raw[:n]), iotest.ErrReader(boom)), 64)
		if _, err := r.ReadPacket(); err != boom {
			t.Fatalf("cut at %d: %v, want boom", n, err)
		}
	}
}

// sizesReader serves its chunks one Read at a time and records the room
// each Read was given.
type sizesReader struct {
	chunks [][]byte
	room   []int
}

func (s *sizesReader) Read(p []byte) (int, error) {
	s.room = append(s.room, len(p))
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.chunks[0])
	s.chunks = s.chunks[1:]
	return n, nil
}

// Once everything buffered is consumed, the next read gets the whole
// buffer, not what is left at its end: a client's batch of packets arrives
// in one read system call, not two.
func TestEmptyBufferRestartsAtItsStart(t *testing.T) {
	pub := func(payload string) []byte {
		b, _ := packet.Append(nil, &packet.Publish{Topic: "t", Payload: []byte(payload)}, packet.Version311)
		return b
	}
	first := pub("0123456789") // 15 bytes
	src := &sizesReader{chunks: [][]byte{first, bytes.Repeat(pub("x"), 10)}}
	r := packet.NewReader(src, 64)
	r.Version = packet.Version311
	for i := range 11 {
		if _, err := r.ReadPacket(); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	if len(src.room) != 2 || src.room[0] != 64 || src.room[1] != 64 {
		t.Errorf("reads were given %v bytes of room, want [64 64]", src.room)
	}
}
