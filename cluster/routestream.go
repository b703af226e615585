package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// A route stream (first byte 0x03 on the cluster port) carries one node's
// routes to another: the hello of a forwarding stream, then messages, each
// a 4-byte big-endian length and a body whose first byte says what it is:
//
//	'F' the sender's routes in full (uvarint count, then each filter as a
//	    uvarint length and its bytes): they replace what the receiver had
//	'A' filter (the rest of the body): a route added
//	'D' filter: a route removed
//
// The receiver never writes; the sender reads only to see the stream end.

// maxRouteMessage bounds a route stream's message (a full set).
const maxRouteMessage = 64 << 20

// routeQueue bounds the changes waiting for a peer: past it, the peer gets
// the routes in full again.
const routeQueue = 4096

// routeOp is one change of a node's routes.
type routeOp struct {
	filter string
	added  bool
}

// routeOut is the route stream to one node.
type routeOut struct {
	id, addr string
	q        chan routeOp  // changes to send; bounded
	resync   bool          // guarded by routeTable.mu: q overflowed, send everything
	wake     chan struct{} // buffered, 1: resync was set
	stop     chan struct{} // closed to end the stream
}

// queueLocked queues op, or has the routes sent in full when the queue is
// full. routeTable.mu must be held.
func (o *routeOut) queueLocked(op routeOp) {
	if o.resync {
		return
	}
	select {
	case o.q <- op:
	default:
		o.resync = true
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
}

// routeIn is a node's incoming route stream.
type routeIn struct{ c net.Conn }

// syncRoutes starts a route stream to each live member that has none,
// stops those of members no longer alive, and drops the routes of the
// members memberlist declared dead or gone (the reconciler calls it at
// each membership event).
func (n *Node) syncRoutes() {
	alive := n.alive()
	gone := make(map[string]bool)
	n.mu.Lock()
	for id, mi := range n.members {
		if mi.state == memberlist.StateDead || mi.state == memberlist.StateLeft {
			gone[id] = true
		}
	}
	n.mu.Unlock()
	r := n.routes
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.ctx.Err() != nil {
		return
	}
	for id := range gone {
		if r.nodes[id] != nil || r.in[id] != nil {
			n.log.Info("cluster: dropping the routes of a member that failed or left", "member", id, "routes", len(r.nodes[id]))
			r.dropLocked(id)
		}
	}
	for id, o := range r.out {
		if m, ok := alive[id]; !ok || m.Addr != o.addr {
			close(o.stop)
			delete(r.out, id)
		}
	}
	for id, m := range alive {
		if id == n.cfg.NodeID || r.out[id] != nil {
			continue
		}
		o := &routeOut{id: id, addr: m.Addr, q: make(chan routeOp, routeQueue), wake: make(chan struct{}, 1),
			stop: make(chan struct{})}
		r.out[id] = o
		n.wg.Add(1)
		go n.runRoutes(o)
	}
}

// stopRoutes stops every outgoing route stream, when the node closes.
func (n *Node) stopRoutes() {
	r := n.routes
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, o := range r.out {
		close(o.stop)
		delete(r.out, id)
	}
}

// runRoutes keeps a route stream to o's node open: the routes in full at
// each connection, then their changes.
func (n *Node) runRoutes(o *routeOut) {
	defer n.wg.Done()
	n.keepStream(streamRoutes, o.addr, o.stop, nil, func(c net.Conn) error { return n.writeRoutes(o, c) }, func(err error) {
		if n.ctx.Err() == nil {
			n.log.Debug("cluster: route stream ended; reconnecting", "peer", o.id, "err", err)
		}
	})
}

// writeRoutes writes the routes in full to c, then their changes, until o
// stops (nil) or the stream fails or ends.
func (n *Node) writeRoutes(o *routeOut, c net.Conn) error {
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c) // the receiver writes nothing: this waits for the end
		if err == nil {
			err = io.EOF
		}
		ended <- err
	}()
	w := bufio.NewWriterSize(c, 32<<10)
	var hdr [4]byte
	write := func(body []byte) error {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second)) // a full buffer writes
		binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
		w.Write(hdr[:])
		_, err := w.Write(body)
		return err
	}
	full := func() error {
		r := n.routes
		r.mu.Lock()
		for len(o.q) > 0 {
			<-o.q // older than the set taken now
		}
		o.resync = false
		body := []byte{'F'}
		body = binary.AppendUvarint(body, uint64(len(r.own)))
		for f := range r.own {
			body = binary.AppendUvarint(body, uint64(len(f)))
			body = append(body, f...)
		}
		r.mu.Unlock()
		return write(body)
	}
	flush := func() error {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		return w.Flush()
	}
	if err := full(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	var body []byte
	for {
		select {
		case op := <-o.q:
			for {
				body = append(body[:0], 'D')
				if op.added {
					body[0] = 'A'
				}
				if err := write(append(body, op.filter...)); err != nil {
					return err
				}
				select {
				case op = <-o.q:
					continue
				default:
				}
				break
			}
		case <-o.wake:
			r := n.routes
			r.mu.Lock()
			again := o.resync
			r.mu.Unlock()
			if !again {
				continue
			}
			if err := full(); err != nil {
				return err
			}
		case err := <-ended:
			return err
		case <-o.stop:
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
	}
}

// serveRoutes accepts the route streams of the other nodes.
func (n *Node) serveRoutes(l *chanListener) {
	n.acceptStreams(l, n.readRoutes, func(c net.Conn, err error) {
		n.log.Debug("cluster: route stream from a peer ended", "remote", c.RemoteAddr(), "err", err)
	})
}

// readRoutes reads a route stream's hello and messages, applying them to
// the sending node's routes. The stream replaces that node's previous one.
func (n *Node) readRoutes(c net.Conn) error {
	r := bufio.NewReaderSize(c, 32<<10)
	h, err := n.readHello(c, r)
	if err != nil {
		return err
	}
	var hdr [4]byte
	in := &routeIn{c: c}
	rt := n.routes
	rt.mu.Lock()
	if old := rt.in[h.Node]; old != nil {
		old.c.Close()
	}
	rt.in[h.Node] = in
	rt.mu.Unlock()
	defer func() {
		rt.mu.Lock()
		if rt.in[h.Node] == in {
			delete(rt.in, h.Node) // the routes stay until the node fails or its next stream
		}
		rt.mu.Unlock()
	}()
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(hdr[:])
		if size == 0 || size > maxRouteMessage {
			return fmt.Errorf("node %q: route message of %d bytes", h.Node, size)
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		switch body[0] {
		case 'F':
			full, err := decodeFull(body[1:])
			if err != nil {
				return fmt.Errorf("node %q: %w", h.Node, err)
			}
			rt.applyRoutes(h.Node, in, full, nil)
		case 'A', 'D':
			rt.applyRoutes(h.Node, in, nil, []routeOp{{filter: string(body[1:]), added: body[0] == 'A'}})
		default:
			return fmt.Errorf("node %q: route message of kind %q", h.Node, body[0])
		}
	}
}

// decodeFull decodes the routes of an 'F' message.
func decodeFull(b []byte) (map[string]bool, error) {
	k, w := binary.Uvarint(b)
	if w <= 0 || k > uint64(len(b)) {
		return nil, errors.New("bad route count")
	}
	b = b[w:]
	out := make(map[string]bool, k)
	for range k {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return nil, errors.New("bad route")
		}
		out[string(b[w:w+int(l)])] = true
		b = b[w+int(l):]
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes after the routes")
	}
	return out, nil
}
