package cluster

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Forwarding: one TCP stream from each node to each other live node, on
// the cluster port (first byte 0x02). The stream starts with a hello (a
// 4-byte big-endian length and JSON naming the cluster and the sending
// node) and then carries frames, each a 4-byte big-endian length and the
// frame's bytes, in the order Broadcast queued them. The frames are opaque
// to the cluster: the broker integration encodes messages in them.

// MaxFrameSize bounds a frame: Broadcast refuses a larger one, a receiver
// closes a stream that announces one.
const MaxFrameSize = 64 << 20

// defaultForwardQueue is the default bound of a peer's queue, in frames.
const defaultForwardQueue = 10000

// hello opens a forwarding stream.
type hello struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
}

// peer is the outgoing stream to one node.
type peer struct {
	id   string
	addr string
	q    chan []byte   // frames to send; bounded
	stop chan struct{} // closed to end the stream
	done chan struct{} // closed when run has returned

	sent    atomic.Uint64
	dropped atomic.Uint64 // queue full, or frames queued when the peer went away
	up      atomic.Bool   // a stream is open
}

// PeerStatus is the forwarding stream to one node.
type PeerStatus struct {
	ID        string `json:"id"`        // the peer's node id
	Address   string `json:"address"`   // its cluster address
	Queued    int    `json:"queued"`    // frames waiting
	Sent      uint64 `json:"sent"`      // frames written to a stream
	Dropped   uint64 `json:"dropped"`   // frames dropped: queue full, or the peer went away
	Connected bool   `json:"connected"` // a stream is open
}

// Broadcast queues frame for every other live node, in order per node,
// without waiting: a peer whose queue (Config.ForwardQueue frames) is full
// drops it and counts it. It returns how many peers it was queued for.
// frame must not be changed afterwards. Frames are not acknowledged: one
// queued for a node that dies, or in flight on a stream that breaks, may
// be lost (a frame being written when the stream broke is sent again on
// the next stream, so it may also arrive twice).
func (n *Node) Broadcast(frame []byte) int {
	if len(frame) > MaxFrameSize {
		return 0
	}
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	k := 0
	for _, p := range n.peers {
		select {
		case p.q <- frame:
			k++
		default:
			p.dropped.Add(1)
		}
	}
	return k
}

// Send queues frame for node id alone, as Broadcast does for every node
// (see Targets for the nodes a message goes to). It reports whether the
// frame was queued: not when the node has no stream (it is not alive, or
// is this node), nor when its queue is full (the frame is counted
// dropped).
func (n *Node) Send(id string, frame []byte) bool {
	if len(frame) > MaxFrameSize {
		return false
	}
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	p := n.peers[id]
	if p == nil {
		return false
	}
	select {
	case p.q <- frame:
		return true
	default:
		p.dropped.Add(1)
		return false
	}
}

// syncPeers starts a stream to each live member that has none, and stops
// those of members no longer alive (dropping what they had queued).
func (n *Node) syncPeers() {
	alive := n.alive()
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	if n.ctx.Err() != nil {
		return
	}
	for id, p := range n.peers {
		if m, ok := alive[id]; !ok || m.Addr != p.addr {
			close(p.stop)
			delete(n.peers, id)
		}
	}
	for id, m := range alive {
		if id == n.cfg.NodeID || n.peers[id] != nil {
			continue
		}
		p := &peer{id: id, addr: m.Addr, q: make(chan []byte, n.cfg.ForwardQueue),
			stop: make(chan struct{}), done: make(chan struct{})}
		n.peers[id] = p
		n.wg.Add(1)
		go n.runPeer(p)
	}
}

// stopPeers stops every stream, when the node closes.
func (n *Node) stopPeers() {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	for id, p := range n.peers {
		close(p.stop)
		delete(n.peers, id)
	}
}

// runPeer keeps a stream to p open and writes p's queue to it.
func (n *Node) runPeer(p *peer) {
	defer n.wg.Done()
	defer close(p.done)
	defer func() { p.dropped.Add(uint64(len(p.q))) }()
	var pending []byte // the frame a broken stream was writing
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		c, err := n.dialPeer(p)
		if err == nil {
			p.up.Store(true)
			delay = 100 * time.Millisecond
			stopWatch := n.closeOnDone(c)
			pending, err = n.writePeer(p, c, pending)
			stopWatch()
			p.up.Store(false)
			c.Close()
			if err == nil {
				return // stopped
			}
			n.log.Warn("cluster: forwarding stream broken; reconnecting", "peer", p.id, "err", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// dialPeer opens a stream to p and sends the hello.
func (n *Node) dialPeer(p *peer) (net.Conn, error) {
	h, _ := json.Marshal(hello{Cluster: n.cfg.Name, Node: n.cfg.NodeID})
	b := make([]byte, 0, 5+len(h))
	b = append(b, streamForward)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h)))
	b = append(b, h...)
	return n.dial(p.addr, 5*time.Second, b)
}

// writePeer writes pending, then p's queue, to c until p stops (nil) or a
// write fails (the frame it was writing is returned, to send again).
func (n *Node) writePeer(p *peer, c net.Conn, pending []byte) ([]byte, error) {
	w := bufio.NewWriterSize(c, 64<<10)
	var hdr [4]byte
	write := func(f []byte) error {
		binary.BigEndian.PutUint32(hdr[:], uint32(len(f)))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		_, err := w.Write(f)
		return err
	}
	for {
		if pending != nil {
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := write(pending); err != nil {
				return pending, err
			}
			p.sent.Add(1)
			pending = nil
		}
		// Write what is queued, flushing once the queue is empty.
		select {
		case f := <-p.q:
			pending = f
			continue
		default:
		}
		if w.Buffered() > 0 {
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := w.Flush(); err != nil {
				return nil, err // the frames in the buffer are lost
			}
		}
		select {
		case f := <-p.q:
			pending = f
		case <-p.stop:
			return nil, nil
		}
	}
}

// serveForward accepts the forwarding streams of the other nodes.
func (n *Node) serveForward(l *chanListener) {
	defer n.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer c.Close()
			defer n.closeOnDone(c)()
			if err := n.readForward(c); err != nil && !errors.Is(err, io.EOF) && n.ctx.Err() == nil {
				n.log.Warn("cluster: forwarding stream from a peer ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// closeOnDone closes c when the node closes, until stop is called.
func (n *Node) closeOnDone(c net.Conn) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-n.ctx.Done():
			c.Close()
		case <-done:
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// readForward reads a stream's hello and frames, handing each frame to
// Config.OnFrame in order.
func (n *Node) readForward(c net.Conn) error {
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [4]byte
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > 4096 {
		return fmt.Errorf("hello of %d bytes", size)
	}
	hb := make([]byte, size)
	if _, err := io.ReadFull(r, hb); err != nil {
		return err
	}
	var h hello
	if err := json.Unmarshal(hb, &h); err != nil {
		return fmt.Errorf("bad hello: %w", err)
	}
	if h.Cluster != n.cfg.Name {
		return fmt.Errorf("stream from node %q of cluster %q, not %q", h.Node, h.Cluster, n.cfg.Name)
	}
	c.SetReadDeadline(time.Time{})
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(hdr[:])
		if size > MaxFrameSize {
			return fmt.Errorf("node %q: frame of %d bytes", h.Node, size)
		}
		f := make([]byte, size)
		if _, err := io.ReadFull(r, f); err != nil {
			return err
		}
		if n.cfg.OnFrame != nil {
			n.cfg.OnFrame(h.Node, f)
		}
	}
}

// peerStatus returns the streams' status, by node id.
func (n *Node) peerStatus() []PeerStatus {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	out := make([]PeerStatus, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, PeerStatus{ID: p.id, Address: p.addr, Queued: len(p.q), Sent: p.sent.Load(), Dropped: p.dropped.Load(), Connected: p.up.Load()})
	}
	return out
}
