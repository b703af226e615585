package packet

import (
	"errors"
	"io"
)

// DefaultReadBufferSize is the read buffer a Reader allocates when it has
// none: enough for typical small packets, so that a burst of them costs one
// read system call.
const DefaultReadBufferSize = 2048

// MaxKeptBody is the largest body buffer a Reader reuses from one packet to
// the next. A larger body is never reused: ReadBody hands it to the caller,
// who may keep it (a broker can route the payload it holds without a copy),
// and a single big packet does not pin its memory in the Reader.
const MaxKeptBody = 64 << 10

// Reader reads control packets from a byte stream. It buffers its input;
// Buffered reports how much is waiting. A Reader is not safe for concurrent
// use.
type Reader struct {
	src     io.Reader
	buf     []byte // buffered input: buf[r:w] is unread
	r, w    int
	bufSize int
	body    []byte // scratch for bodies larger than buf
	pool    BufferPool
	// Version is the protocol version used to decode packets other than
	// CONNECT. The receiver sets it once CONNECT is known.
	Version byte
	// MaxSize is the largest packet, fixed header included, that ReadPacket
	// accepts; 0 means the protocol maximum.
	MaxSize int
	// Eager makes ReadBody allocate a body larger than the read buffer at
	// its full size as soon as it starts, so that it is read into one buffer
	// with no copy. Without it the buffer starts small and grows as input
	// arrives: memory then follows what the peer has sent, not what its
	// Remaining Length announces, at the price of copies. A receiver sets
	// Eager once it trusts the peer with MaxSize bytes (after
	// authentication).
	Eager bool
}

// NewReader returns a Reader reading from src with a read buffer of size
// bytes (DefaultReadBufferSize if size <= 0, at least 16). The buffer is
// allocated (or taken from the BufferPool) on the first read and can be
// given back with Release while no input is buffered.
func NewReader(src io.Reader, size int) *Reader {
	if size <= 0 {
		size = DefaultReadBufferSize
	}
	size = max(size, 16) // room for any fixed header
	return &Reader{src: src, bufSize: size}
}

// Buffered returns the number of bytes read from the stream but not yet
// consumed.
func (r *Reader) Buffered() int { return r.w - r.r }

// BufferPool supplies read buffers to Readers and takes them back, so that
// many connections that read now and then share a few buffers. Get must
// return a slice of the size the Reader was made with; Put gets back what Get
// returned. Implementations must be safe for concurrent use.
type BufferPool interface {
	Get() []byte
	Put([]byte)
}

// SetBufferPool makes the Reader take its read buffer from p when it needs
// one and give it back on Release. It must be called before the first read.
func (r *Reader) SetBufferPool(p BufferPool) { r.pool = p }

// Reset makes r a new Reader from src, with the buffer size and BufferPool
// it had, so that connections that read now and then can share Readers.
// It must hold no input (Release it first).
func (r *Reader) Reset(src io.Reader) { *r = Reader{src: src, bufSize: r.bufSize, pool: r.pool} }

// Release drops the Reader's buffers if nothing is buffered, so that an idle
// connection holds no read memory; the read buffer goes back to the
// BufferPool, if any. It reports whether it did.
func (r *Reader) Release() bool {
	if r.w != r.r {
		return false
	}
	if r.pool != nil && r.buf != nil {
		r.pool.Put(r.buf)
	}
	r.buf, r.body, r.r, r.w = nil, nil, 0, 0
	return true
}

// maxEmptyReads is how many reads in a row may return no data and no error
// before fill gives up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// fill reads more input until at least n bytes are buffered. n must not
// exceed the buffer size. It returns io.EOF only when the stream ended with
// nothing buffered, io.ErrUnexpectedEOF when it ended with fewer than n bytes.
func (r *Reader) fill(n int) error {
	if r.buf == nil {
		if r.pool != nil {
			r.buf = r.pool.Get()[:r.bufSize]
		} else {
			r.buf = make([]byte, r.bufSize)
		}
	}
	if r.w-r.r >= n {
		return nil
	}
	if r.r == r.w {
		// Empty: read into the whole buffer, not what is left at its end.
		r.r, r.w = 0, 0
	} else if r.r > 0 && r.r+n > len(r.buf) {
		copy(r.buf, r.buf[r.r:r.w])
		r.w -= r.r
		r.r = 0
	}
	for empty := 0; r.w-r.r < n; {
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			if r.w-r.r >= n {
				return nil
			}
			if errors.Is(err, io.EOF) && r.w-r.r > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			return io.ErrNoProgress
		}
	}
	return nil
}

// ReadHeader reads a fixed header. It returns a malformed error for a
// Remaining Length longer than four bytes (1.5.5) or, once Version is 5, not
// in its shortest form [MQTT-1.5.5-1]. It returns the header and an error
// matching ErrTooLarge if the packet would exceed MaxSize, having consumed
// only the header: the body is neither read nor allocated, and the Reader
// cannot be used any further. At the end of the stream between two packets
// it returns io.EOF; inside a header, io.ErrUnexpectedEOF.
func (r *Reader) ReadHeader() (FixedHeader, error) {
	if err := r.fill(2); err != nil {
		return FixedHeader{}, err
	}
	var h FixedHeader
	b0 := r.buf[r.r]
	h.Type = Type(b0 >> 4)
	h.Flags = b0 & 0x0f
	var rem uint32
	n := 1
	for {
		if err := r.fill(n + 1); err != nil {
			return FixedHeader{}, err
		}
		c := r.buf[r.r+n]
		rem |= uint32(c&0x7f) << (7 * (n - 1))
		n++
		if c&0x80 == 0 {
			if n > 2 && c == 0 && r.Version == Version5 {
				return FixedHeader{}, malformed("remaining length not in its shortest form") // [MQTT-1.5.5-1]
			}
			break
		}
		if n == 5 {
			return FixedHeader{}, malformed("remaining length longer than 4 bytes") // 1.5.5
		}
	}
	r.r += n
	h.Remaining = int(rem)
	if max := r.MaxSize; max > 0 && n+h.Remaining > max {
		return h, &Error{Code: PacketTooLarge, Reason: h.Type.String() + " of " + itoa(n+h.Remaining) + " bytes exceeds the maximum packet size " + itoa(max)}
	}
	return h, nil
}

// minBodyChunk is the first allocation for a body larger than the read
// buffer; the buffer then doubles as input arrives, so that memory follows
// what the peer has sent, not what its Remaining Length announces.
const minBodyChunk = 64 << 10

// ReadBody reads the body of the packet whose header ReadHeader returned.
// The returned slice is valid only until the next read call or Release
// (which may hand the buffer to another Reader through the BufferPool),
// unless it is longer than MaxKeptBody: such a body is the caller's. A
// stream that ends inside the body gives io.ErrUnexpectedEOF. After an error
// the Reader is positioned inside the packet and cannot be used any further.
func (r *Reader) ReadBody(h FixedHeader) ([]byte, error) {
	n := h.Remaining
	if n <= r.bufSize && n <= MaxKeptBody { // a larger body is the caller's: never in buf
		if err := r.fill(n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b := r.buf[r.r : r.r+n]
		r.r += n
		return b, nil
	}
	b := r.body[:0]
	switch {
	case cap(b) >= n:
	case r.Eager:
		b = make([]byte, 0, n)
	default:
		b = make([]byte, 0, min(n, max(minBodyChunk, cap(b))))
	}
	m := min(n, r.w-r.r) // a read buffer larger than MaxKeptBody may hold more
	b = append(b, r.buf[r.r:r.r+m]...)
	r.r += m
	for empty := 0; len(b) < n; {
		if len(b) == cap(b) {
			b = append(make([]byte, 0, min(n, 2*cap(b))), b...)
		}
		m, err := r.src.Read(b[len(b):min(n, cap(b))])
		b = b[:len(b)+m]
		if err != nil && len(b) < n {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			r.keep(b)
			return nil, err
		}
		if m > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			return nil, io.ErrNoProgress
		}
	}
	r.keep(b)
	return b, nil
}

// keep keeps body buffer b for the next packet if it is small enough.
func (r *Reader) keep(b []byte) {
	r.body = nil
	if cap(b) <= MaxKeptBody {
		r.body = b[:0]
	}
}

// ReadPacket reads and decodes one control packet. It returns ErrTooLarge
// without reading the body if the packet exceeds MaxSize; decoding errors are
// *Error values (see Decode, which also describes what is returned with a
// CONNECT error); I/O errors are returned as they are, io.ErrUnexpectedEOF
// for a stream that ends inside a packet. The packet does not alias the
// Reader's buffers.
func (r *Reader) ReadPacket() (Packet, error) {
	h, err := r.ReadHeader()
	if err != nil {
		return nil, err
	}
	body, err := r.ReadBody(h)
	if err != nil {
		return nil, err
	}
	return Decode(h, body, r.Version)
}
