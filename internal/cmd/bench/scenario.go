package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// The scenario modes (queue, storm, filters) measure one figure each on the
// wire engine. Their connections share the helpers below: a reader that
// acknowledges deliveries and hands every packet to a callback, a QoS 1/2
// publishing stream with a window of packet identifiers, and a pool that
// creates persistent sessions.

// errDone ends serveWire without an error.
var errDone = errors.New("done")

// serveWire reads c until on returns an error (errDone: normal end) or the
// connection fails. It acknowledges QoS 1 and 2 deliveries (PUBACK, PUBREC
// and PUBCOMP) in batches, before on sees the packet.
func serveWire(c *wireConn, on func(h packet.FixedHeader, body []byte) error) error {
	pending := 0
	for {
		if pending > 0 && (pending >= wireAckBatch || c.r.Buffered() == 0) {
			if err := c.flush(); err != nil {
				return err
			}
			pending = 0
		}
		h, body, _, err := c.readPacket()
		if err != nil {
			return err
		}
		switch h.Type {
		case packet.TypePublish:
			qos, id, _, err := publishFields(h.Flags, body, c.v)
			if err != nil {
				return err
			}
			switch qos {
			case 1:
				c.appendAck(packet.TypePuback, id)
				pending++
			case 2:
				c.appendAck(packet.TypePubrec, id)
				pending++
			}
		case packet.TypePubrel:
			id, _, err := ackFields(body)
			if err != nil {
				return err
			}
			c.appendAck(packet.TypePubcomp, id)
			pending++
		case packet.TypeDisconnect:
			return disconnectError(body)
		}
		if err := on(h, body); err != nil {
			if pending > 0 {
				c.flush()
			}
			return err
		}
	}
}

// pubStream publishes on one wire connection: at QoS 1 and 2 each message
// takes a packet identifier from free and gets it back when it is
// acknowledged (PUBACK, or PUBCOMP), so at most the window is in flight.
type pubStream struct {
	c       *wireConn
	qos     byte
	free    chan uint16 // identifiers not in flight
	window  int
	acked   atomic.Int64
	sent    int64      // the publishing goroutine's
	readErr chan error // the reader's end
}

// newPubStream connects a publisher (client number num, identifier id)
// and starts reading its acknowledgements.
func newPubStream(ctx context.Context, d *dialer, num int, id string, qos byte, window int) (*pubStream, error) {
	c, err := dialWire(ctx, d, num, id, wireBufSize)
	if err != nil {
		return nil, err
	}
	if err := checkQoSAgainst(int(qos), c.maxQoS); err != nil {
		c.close(false)
		return nil, err
	}
	window = min(window, c.recvMax)
	p := &pubStream{c: c, qos: qos, free: make(chan uint16, window), window: window, readErr: make(chan error, 1)}
	for i := 1; i <= window; i++ {
		p.free <- uint16(i)
	}
	go func() {
		p.readErr <- serveWire(c, func(h packet.FixedHeader, body []byte) error {
			switch h.Type {
			case packet.TypePuback, packet.TypePubcomp:
				id, code, err := ackFields(body)
				if err != nil {
					return err
				}
				if code >= 0x80 {
					return fmt.Errorf("publish refused: %v", code)
				}
				p.acked.Add(1)
				p.free <- id
			case packet.TypePubrec:
				id, code, err := ackFields(body)
				if err != nil {
					return err
				}
				if code >= 0x80 {
					return fmt.Errorf("publish refused: %v", code)
				}
				c.appendAck(packet.TypePubrel, id)
				return c.flush()
			}
			return nil
		})
	}()
	return p, nil
}

// publish queues one message, writing when the buffer is full or when it
// has to wait for an identifier.
func (p *pubStream) publish(ctx context.Context, topic string, payload []byte) error {
	var id uint16
	if p.qos > 0 {
		select {
		case id = <-p.free:
		default:
			if err := p.c.flush(); err != nil {
				return err
			}
			select {
			case id = <-p.free:
			case err := <-p.readErr:
				p.readErr <- err
				return fmt.Errorf("publisher connection: %w", err)
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
	}
	c := p.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	out, err := packet.Append(c.out, &packet.Publish{Topic: topic, QoS: p.qos, PacketID: id, Payload: payload}, c.v)
	if err != nil {
		return err
	}
	c.out = out
	p.sent++
	if len(c.out) >= wireBufSize {
		return c.writeLocked()
	}
	return nil
}

// wait writes what is pending and, at QoS 1 and 2, waits until every
// message sent is acknowledged.
func (p *pubStream) wait(ctx context.Context) error {
	if err := p.c.flush(); err != nil {
		return err
	}
	if p.qos == 0 {
		return nil
	}
	for p.acked.Load() < p.sent {
		select {
		case err := <-p.readErr:
			p.readErr <- err
			return fmt.Errorf("publisher connection: %w", err)
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// makeSessions creates n persistent sessions, client numbers o.start to
// o.start+n-1: each connects (clean session off), subscribes to filter(i)
// at -q and disconnects, o.concurrency at a time, all bounded by ctx.
func makeSessions(ctx context.Context, o *options, d *dialer, n int, cs *connStats, filter func(num int) string) {
	connectPool(ctx, n, o.concurrency, o.connectTimeout, cs, func(ctx context.Context, i int) error {
		num := o.start + i
		c, err := dialWire(ctx, d, num, o.idTmpl.expand(tmplVars{num: num, role: "s"}), 4096)
		if err != nil {
			return err
		}
		defer c.close(true)
		return c.subscribeSync(ctx, filter(num), byte(o.qos))
	})
}

// payloadOf returns a payload of -s bytes.
func payloadOf(o *options) []byte {
	b := make([]byte, o.size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// figure sets a named figure of a scenario report.
func (rep *report) figure(name string, v float64) {
	if rep.Figures == nil {
		rep.Figures = map[string]float64{}
	}
	rep.Figures[name] = v
}

// writeFigures prints the figures of a scenario, in name order.
func writeFigures(b *strings.Builder, f map[string]float64) {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := f[k]
		s := strconv.FormatFloat(v, 'f', 3, 64)
		if v == float64(int64(v)) && (v >= 1000 || v <= -1000) {
			s = commas(int64(v))
		}
		fmt.Fprintf(b, "  %-26s %s\n", k, s)
	}
}

// waitAccepting dials addr until it accepts a TCP connection, bounded by ctx.
func waitAccepting(ctx context.Context, addr string) error {
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the broker does not accept connections on %s: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// runRestart runs the --restart command with sh, bounded by ctx. If the
// last line it prints is a number, that is the new broker's process.
func runRestart(ctx context.Context, command string) (pid int, err error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("--restart %q: %w", command, err)
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) > 0 {
		if n, err := strconv.Atoi(lines[len(lines)-1]); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, nil
}

// counter counts deliveries of many connections and wakes a waiter when
// a goal is reached.
type counter struct {
	n    atomic.Int64
	goal int64 // set once by newCounter
	mu   sync.Mutex
	hit  chan struct{} // closed (under mu) when n reaches goal
}

func newCounter(goal int64) *counter {
	c := &counter{goal: goal, hit: make(chan struct{})}
	if goal <= 0 {
		close(c.hit)
	}
	return c
}

func (c *counter) add(d int64) {
	if v := c.n.Add(d); v >= c.goal && c.goal > 0 {
		c.mu.Lock()
		select {
		case <-c.hit:
		default:
			close(c.hit)
		}
		c.mu.Unlock()
	}
}
