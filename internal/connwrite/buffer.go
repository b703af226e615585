package connwrite

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/internal/memreturn"
	"github.com/midge-mqtt/midge/internal/pubcodec"
	"github.com/midge-mqtt/midge/packet"
)

// ErrTooLarge is returned by Buffer's Append methods for a packet larger
// than the client's Maximum Packet Size: it is not written
// [MQTT-3.1.2-24], [MQTT-3.1.2-25].
var ErrTooLarge = errors.New("connwrite: packet exceeds the client's Maximum Packet Size")

// LargePayload is the payload size from which a PUBLISH's payload is
// written from the message rather than copied into the buffer.
const LargePayload = 64 << 10

// Buffer is a batch of encoded packets waiting to be written, the packets
// reused to encode them, and Batch, the caller's items of type T to encode
// next. It belongs to one writer at a time.
type Buffer[T any] struct {
	// Batch is the caller's to fill and clear; Put empties it.
	Batch []T

	buf []byte
	// vec, for a batch with a large payload, is what to write: parts of
	// buf and payloads, which are written from the message, not copied;
	// buf[mark:] is what follows the last of them.
	vec   net.Buffers
	mark  int
	large bool // a large payload was written: memory may be returned

	// Pub and Ack are reused for every PUBLISH and acknowledgement
	// encoded: a caller fills one and passes it to Append.
	Pub packet.Publish
	Ack packet.Ack
	// Counters count the packets appended; the caller flushes them.
	Counters
}

// Pool holds Buffers between writers, so that an idle connection holds
// none. The zero value is ready to use; it is safe for concurrent use.
type Pool[T any] struct{ p sync.Pool }

// Get returns an empty Buffer.
func (p *Pool[T]) Get() *Buffer[T] {
	if b, ok := p.p.Get().(*Buffer[T]); ok {
		return b
	}
	return &Buffer[T]{buf: make([]byte, 0, 16<<10)}
}

// Put empties b and keeps it for a later Get, unless it grew too large to
// keep. Its counters must have been flushed. It reports whether a large
// payload was written since b was got, after which memory may be returned
// to the system.
func (p *Pool[T]) Put(b *Buffer[T]) (large bool) {
	large = b.large
	b.large = false
	clear(b.Batch)
	b.Batch = b.Batch[:0]
	b.Pub, b.Ack = packet.Publish{}, packet.Ack{}
	clear(b.vec)
	b.vec, b.mark = b.vec[:0], 0
	if cap(b.buf) <= 256<<10 {
		b.buf = b.buf[:0]
		p.p.Put(b)
	}
	return large
}

// Reset starts a new batch.
func (b *Buffer[T]) Reset() { b.buf = b.buf[:0] }

// Len returns the bytes of the batch held in the buffer (large payloads
// written from their message not included), 0 for none.
func (b *Buffer[T]) Len() int { return len(b.buf) + len(b.vec) }

// Append appends p encoded for protocol version v and counts it. It
// returns ErrTooLarge, and appends nothing, if p exceeds maxOut bytes
// (0: no limit).
func (b *Buffer[T]) Append(p packet.Packet, v byte, maxOut int) error {
	if maxOut > 0 && packet.Size(p, v) > maxOut {
		return ErrTooLarge
	}
	out, err := packet.Append(b.buf, p, v)
	if err != nil {
		return err
	}
	b.buf = out
	b.Packet(p.Type())
	return nil
}

// AppendPublish is Append for a PUBLISH. With vectored, a payload of
// LargePayload bytes or more is not copied: the write takes it from p's
// payload, which must not change until then.
func (b *Buffer[T]) AppendPublish(p *packet.Publish, v byte, maxOut int, vectored bool) error {
	if maxOut > 0 && packet.Size(p, v) > maxOut {
		return ErrTooLarge
	}
	payload := p.Payload
	if len(payload) < LargePayload || !vectored {
		out, err := packet.Append(b.buf, p, v)
		if err != nil {
			return err
		}
		b.buf = out
	} else {
		// The header goes into buf, the payload is written from where it
		// is: the broker holds one copy of a large message.
		p.Payload = nil
		out, err := packet.Append(b.buf, p, v)
		p.Payload = payload
		if err != nil {
			return err
		}
		out = pubcodec.AddRemaining(out, len(b.buf), len(payload))
		b.vec = append(b.vec, out[b.mark:], payload)
		b.mark = len(out)
		b.buf = out
		b.large = b.large || len(payload) >= memreturn.Large
	}
	b.Packet(packet.TypePublish)
	b.Payload(len(payload))
	return nil
}

// WriteTo writes the batch to nc and empties the vector of large payloads.
func (b *Buffer[T]) WriteTo(nc net.Conn) (int64, error) {
	if len(b.vec) == 0 {
		n, err := nc.Write(b.buf)
		return int64(n), err
	}
	if b.mark < len(b.buf) {
		b.vec = append(b.vec, b.buf[b.mark:])
	}
	v := b.vec
	n, err := v.WriteTo(nc) // writev on TCP
	clear(b.vec)
	b.vec, b.mark = b.vec[:0], 0
	return n, err
}

// Vectored reports whether payloads may be written separately from their
// packet's header on nc: a byte stream, not a WebSocket, whose every write
// is a message of its own.
func Vectored(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn, *tls.Conn:
		return true
	}
	return false
}

// WriteNow writes p, encoded for protocol version v, to nc at once, and
// counts it in out and bytes once written. It returns only an encoding
// error: a write error shows when the connection is next read.
func WriteNow(nc net.Conn, p packet.Packet, v byte, out *Totals, bytes *atomic.Uint64) error {
	b, err := packet.Append(nil, p, v)
	if err != nil {
		return err
	}
	if n, err := nc.Write(b); err == nil {
		bytes.Add(uint64(n))
		out.Msgs.Add(1)
		out.Types[p.Type()&15].Add(1)
	}
	return nil
}
