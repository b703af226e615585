package bridge

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// maxPending bounds the bytes a wire holds for its writer; send waits while
// more are pending, which pushes back on the side that feeds it.
const maxPending = 4 << 20

// wire is one MQTT connection of a bridge (remote or local): packets are
// encoded into a buffer that a writer goroutine writes, so a burst costs
// one system call.
type wire struct {
	nc      net.Conn
	r       *packet.Reader // owned by the reading goroutine
	v       byte           // protocol version, set before the wire is shared
	timeout time.Duration  // bounds one write

	mu    sync.Mutex // guards out, spare, err, the cond's waits
	cond  *sync.Cond // signalled when out drains or err is set
	out   []byte     // packets waiting for the writer
	spare []byte
	err   error // sticky: the wire is dead
	kick  chan struct{}
	done  chan struct{} // closed when the writer exits
}

func newWire(nc net.Conn, v byte, timeout time.Duration) *wire {
	w := &wire{nc: nc, v: v, timeout: timeout, kick: make(chan struct{}, 1), done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	w.r = packet.NewReader(nc, 0)
	w.r.Version = v
	return w
}

// start starts the writer goroutine.
func (w *wire) start() { go w.writeLoop() }

var errClosed = errors.New("bridge: connection closed")

// send queues p for writing. It waits while too much is pending and returns
// the wire's error once it is dead.
func (w *wire) send(p packet.Packet) error {
	w.mu.Lock()
	for w.err == nil && len(w.out) > maxPending {
		w.cond.Wait()
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	out, err := packet.Append(w.out, p, w.v)
	if err != nil {
		w.mu.Unlock()
		return fmt.Errorf("bridge: encode %v: %w", p.Type(), err)
	}
	w.out = out
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

// writeNow writes p at once, before the writer runs (CONNECT).
func (w *wire) writeNow(p packet.Packet) error {
	b, err := packet.Append(nil, p, w.v)
	if err != nil {
		return err
	}
	w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err = w.nc.Write(b)
	return err
}

func (w *wire) writeLoop() {
	defer close(w.done)
	for range w.kick {
		w.mu.Lock()
		if w.err != nil {
			w.mu.Unlock()
			return
		}
		if len(w.out) == 0 {
			// Nothing to write. (Swapping now would leave out and spare
			// on one array, which the next write would overwrite while it
			// is written.)
			w.mu.Unlock()
			continue
		}
		buf := w.out
		w.out = w.spare[:0]
		w.mu.Unlock()
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		_, err := w.nc.Write(buf)
		w.mu.Lock()
		w.spare = buf[:0]
		if err != nil && w.err == nil {
			w.err = err
		}
		w.cond.Broadcast()
		failed := w.err != nil
		w.mu.Unlock()
		if failed {
			w.nc.Close()
			return
		}
	}
}

// flush waits until what was queued before it has been written, or d.
func (w *wire) flush(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		empty, dead := len(w.out) == 0, w.err != nil
		w.mu.Unlock()
		if empty || dead {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// close kills the wire: the writer stops, senders get errClosed.
func (w *wire) close(err error) {
	if err == nil {
		err = errClosed
	}
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.cond.Broadcast()
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	w.nc.Close()
}

// read reads one packet. Only the reading goroutine calls it.
func (w *wire) read() (packet.Packet, error) { return w.r.ReadPacket() }
