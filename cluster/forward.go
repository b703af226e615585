package cluster

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Forwarding: one TCP stream from each node to each other live node, on
// the cluster port (first byte 0x02). The stream starts with a hello (a
// 4-byte big-endian length and JSON naming the cluster, the sending node
// and its epoch, random for each life of the node) and then carries
// frames, each a 4-byte big-endian length n, an 8-byte big-endian
// sequence number and n bytes, in the order they were queued. The
// receiver answers on the same connection with acknowledgements, each an
// 8-byte big-endian sequence number: every frame up to it has been handled
// (Config.Deliver called done, or Config.OnFrame returned). The sender
// keeps each frame until it is acknowledged and sends the unacknowledged
// ones again on the next stream; the receiver drops a frame whose sequence
// number it has already handed on for that sender's epoch (acks.go), so a
// frame is handled once per life of the receiving node. The frames are
// opaque to the cluster: the broker integration encodes messages in them.

// MaxFrameSize bounds a frame: Broadcast refuses a larger one, a receiver
// closes a stream that announces one.
const MaxFrameSize = 64 << 20

// defaultForwardQueue is the default bound of a peer's queue, in frames.
const defaultForwardQueue = 10000

// hello opens a forwarding stream.
type hello struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`
	Epoch   uint64 `json:"epoch"` // the sender's life: sequence numbers are its
}

// outFrame is a frame queued for a peer.
type outFrame struct {
	seq  uint64
	data []byte
}

// peer is the outgoing stream to one node.
type peer struct {
	id   string
	addr string
	max  int           // bound of frames
	stop chan struct{} // closed to end the stream
	done chan struct{} // closed when run has returned
	wake chan struct{} // wakes the writer; buffered, 1

	mu      sync.Mutex    // guards frames, written, acked, gone, changed
	frames  []outFrame    // unacknowledged, by sequence number
	written int           // frames[:written] were written to the current stream
	acked   uint64        // the highest sequence number acknowledged
	gone    bool          // the stream stopped: nothing more is sent or acknowledged
	changed chan struct{} // closed and replaced when acked or gone change, or room frees

	sent    atomic.Uint64
	dropped atomic.Uint64 // queue full, or frames queued when the peer went away
	up      atomic.Bool   // a stream is open
}

// PeerStatus is the forwarding stream to one node.
type PeerStatus struct {
	ID        string `json:"id"`        // the peer's node id
	Address   string `json:"address"`   // its cluster address
	Queued    int    `json:"queued"`    // frames not acknowledged yet (sent or waiting)
	Sent      uint64 `json:"sent"`      // frames written to a stream (again after a reconnect)
	Acked     uint64 `json:"acked"`     // the last frame sequence number acknowledged
	Dropped   uint64 `json:"dropped"`   // frames dropped: queue full, or the peer went away
	Connected bool   `json:"connected"` // a stream is open
}

// Broadcast queues frame for every other live node, in order per node,
// without waiting: a peer whose queue (Config.ForwardQueue frames) is full
// drops it and counts it. It returns how many peers it was queued for.
// frame must not be changed afterwards. A frame queued is sent again after
// a broken stream until the node acknowledges it or memberlist declares it
// dead; Forward waits for room and tells when the frame was acknowledged.
func (n *Node) Broadcast(frame []byte) int {
	if len(frame) > MaxFrameSize {
		return 0
	}
	k := 0
	for _, p := range n.livePeers() {
		if _, ok := p.enqueue(n, frame); ok {
			k++
		} else {
			p.dropped.Add(1)
		}
	}
	return k
}

// livePeers returns the streams to the live nodes.
func (n *Node) livePeers() []*peer {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	ps := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		ps = append(ps, p)
	}
	return ps
}

// enqueue appends frame to p's queue with the next sequence number of
// this node's life, unless the queue is full or p has stopped.
func (p *peer) enqueue(n *Node, frame []byte) (uint64, bool) {
	p.mu.Lock()
	if p.gone || len(p.frames) >= p.max {
		p.mu.Unlock()
		return 0, false
	}
	// Taken under p.mu: the numbers of one peer's frames increase in
	// queue order, which the receiver's duplicate check relies on.
	seq := n.fwdSeq.Add(1)
	p.frames = append(p.frames, outFrame{seq: seq, data: frame})
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return seq, true
}

// notifyLocked wakes those waiting on p.changed. p.mu must be held.
func (p *peer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// ack drops the frames up to seq, acknowledged by the peer.
func (p *peer) ack(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq <= p.acked {
		return
	}
	p.acked = seq
	k := 0
	for k < len(p.frames) && p.frames[k].seq <= seq {
		k++
	}
	clear(p.frames[:k])
	p.frames = p.frames[k:]
	p.written = max(p.written-k, 0)
	p.notifyLocked()
}

// Send queues frame for node id alone, as Broadcast does for every node
// (see Targets for the nodes a message goes to), without waiting. It
// reports whether the frame was queued: not when the node has no stream
// (it is not alive, or is this node), nor when its queue is full (the
// frame is counted dropped). ForwardTo waits for room and tells when the
// frame was acknowledged.
func (n *Node) Send(id string, frame []byte) bool {
	if len(frame) > MaxFrameSize {
		return false
	}
	n.peersMu.Lock()
	p := n.peers[id]
	n.peersMu.Unlock()
	if p == nil {
		return false
	}
	if _, ok := p.enqueue(n, frame); !ok {
		p.dropped.Add(1)
		return false
	}
	return true
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
			p.halt()
			delete(n.peers, id)
		}
	}
	for id, m := range alive {
		if id == n.cfg.NodeID || n.peers[id] != nil {
			continue
		}
		p := &peer{id: id, addr: m.Addr, max: n.cfg.ForwardQueue, stop: make(chan struct{}), done: make(chan struct{}),
			wake: make(chan struct{}, 1), changed: make(chan struct{})}
		n.peers[id] = p
		n.wg.Add(1)
		go n.runPeer(p)
	}
}

// halt stops p's stream: its frames are dropped, and nobody waits for
// them any more (Pending.Wait).
func (p *peer) halt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return
	}
	p.gone = true
	p.dropped.Add(uint64(len(p.frames)))
	p.frames, p.written = nil, 0
	p.notifyLocked()
	close(p.stop)
}

// stopPeers stops every stream, when the node closes.
func (n *Node) stopPeers() {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	for id, p := range n.peers {
		p.halt()
		delete(n.peers, id)
	}
}

// runPeer keeps a stream to p open and writes p's queue to it.
func (n *Node) runPeer(p *peer) {
	defer n.wg.Done()
	defer close(p.done)
	n.keepStream(streamForward, p.addr, p.stop, &p.up, func(c net.Conn) error { return n.streamPeer(p, c) }, func(err error) {
		n.log.Warn("cluster: forwarding stream broken; reconnecting", "peer", p.id, "err", err)
	})
}

// keepStream keeps a stream of kind (streamForward, streamRoutes) to the
// node at addr open until stop is closed: it dials, sends the hello and
// runs write on the connection; when write fails it tells broken and dials
// again, backing off from 100 ms to 5 s. write returns nil once stop is
// closed. up, if not nil, is true while a connection is open.
func (n *Node) keepStream(kind byte, addr string, stop <-chan struct{}, up *atomic.Bool, write func(net.Conn) error, broken func(error)) {
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		h, _ := json.Marshal(hello{Cluster: n.cfg.Name, Node: n.cfg.NodeID, Epoch: n.epoch()})
		b := append([]byte{kind}, binary.BigEndian.AppendUint32(nil, uint32(len(h)))...)
		c, err := n.dial(addr, 5*time.Second, append(b, h...))
		if err == nil {
			if up != nil {
				up.Store(true)
			}
			delay = 100 * time.Millisecond
			stopWatch := n.closeOnDone(c)
			err = write(c)
			stopWatch()
			c.Close()
			if up != nil {
				up.Store(false)
			}
			if err == nil {
				return // stopped
			}
			broken(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// epoch identifies this life of the node on the forwarding streams.
func (n *Node) epoch() uint64 {
	return uint64(n.incarnation)<<32 | uint64(uint32(n.started.UnixNano()))
}

// streamPeer sends p's unacknowledged frames on c, from the first, and
// reads the acknowledgements, until p stops (nil) or c fails. It closes c.
func (n *Node) streamPeer(p *peer, c net.Conn) error {
	p.mu.Lock()
	p.written = 0 // the previous stream's unacknowledged frames go again
	p.mu.Unlock()
	acks := make(chan error, 1)
	go func() { acks <- readAcks(p, c) }()
	fin := make(chan struct{})
	go func() {
		select {
		case <-p.stop: // a write may be blocked on a peer that is gone
			c.Close()
		case <-fin:
		}
	}()
	err := n.writePeer(p, c, acks)
	close(fin)
	c.Close()
	<-acks
	select {
	case <-p.stop:
		return nil
	default:
	}
	if err == nil {
		err = io.EOF
	}
	return err
}

// readAcks reads c's acknowledgements into p until c fails.
func readAcks(p *peer, c net.Conn) error {
	r := bufio.NewReaderSize(c, 4096)
	var b [8]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return err
		}
		p.ack(binary.BigEndian.Uint64(b[:]))
	}
}

// writeBatch bounds the frames written between two looks at the queue.
const writeBatch = 256

// writePeer writes p's frames not yet written to c until p stops (nil), a
// write fails, or the acknowledgements end (acks).
func (n *Node) writePeer(p *peer, c net.Conn, acks chan error) error {
	w := bufio.NewWriterSize(c, 64<<10)
	var hdr [12]byte
	for {
		p.mu.Lock()
		batch := slices.Clone(p.frames[p.written:min(len(p.frames), p.written+writeBatch)])
		p.written += len(batch)
		p.mu.Unlock()
		if len(batch) > 0 {
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			for _, f := range batch {
				binary.BigEndian.PutUint32(hdr[:4], uint32(len(f.data)))
				binary.BigEndian.PutUint64(hdr[4:], f.seq)
				if _, err := w.Write(hdr[:]); err != nil {
					return err
				}
				if _, err := w.Write(f.data); err != nil {
					return err
				}
			}
			p.sent.Add(uint64(len(batch)))
			continue
		}
		if w.Buffered() > 0 {
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := w.Flush(); err != nil {
				return err
			}
		}
		select {
		case <-p.wake:
		case err := <-acks:
			acks <- err // for streamPeer
			if err == nil {
				err = io.EOF
			}
			return err
		case <-p.stop:
			return nil
		}
	}
}

// serveForward accepts the forwarding streams of the other nodes.
func (n *Node) serveForward(l *chanListener) {
	in := &inbound{senders: make(map[string]*sender)}
	n.acceptStreams(l, func(c net.Conn) error { return n.readForward(c, in) }, func(c net.Conn, err error) {
		n.log.Warn("cluster: forwarding stream from a peer ended", "remote", c.RemoteAddr(), "err", err)
	})
}

// acceptStreams accepts the streams of the other nodes on l (its caller
// counted in n.wg), each read by read on a goroutine of its own until it
// ends or the node closes; ended is told how one ended, unless at its end
// of file or because the node is closing.
func (n *Node) acceptStreams(l *chanListener, read func(net.Conn) error, ended func(net.Conn, error)) {
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
			if err := read(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && n.ctx.Err() == nil {
				ended(c, err)
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

// readHello reads the hello that starts a stream from another node (a
// 4-byte big-endian length and its JSON), within 10 s, and refuses a
// stream from another cluster or from no other node.
func (n *Node) readHello(c net.Conn, r *bufio.Reader) (hello, error) {
	var h hello
	var hdr [4]byte
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return h, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > 4096 {
		return h, fmt.Errorf("hello of %d bytes", size)
	}
	hb := make([]byte, size)
	if _, err := io.ReadFull(r, hb); err != nil {
		return h, err
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, fmt.Errorf("bad hello: %w", err)
	}
	if h.Cluster != n.cfg.Name || h.Node == n.cfg.NodeID || h.Node == "" {
		return h, fmt.Errorf("stream from node %q of cluster %q refused (this is node %q of %q)", h.Node, h.Cluster, n.cfg.NodeID, n.cfg.Name)
	}
	c.SetReadDeadline(time.Time{})
	return h, nil
}

// readForward reads a stream's hello and frames, handing each new frame
// to the receiver (acks.go) in order, while ackForward acknowledges them.
func (n *Node) readForward(c net.Conn, in *inbound) error {
	r := bufio.NewReaderSize(c, 64<<10)
	h, err := n.readHello(c, r)
	if err != nil {
		return err
	}
	var hdr [12]byte
	st := in.sender(h.Node, h.Epoch)
	acksDone := make(chan struct{})
	stopAcks := make(chan struct{})
	go func() { defer close(acksDone); ackForward(c, st, stopAcks) }()
	defer func() { close(stopAcks); <-acksDone }()
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if size > MaxFrameSize {
			return fmt.Errorf("node %q: frame of %d bytes", h.Node, size)
		}
		seq := binary.BigEndian.Uint64(hdr[4:])
		f := make([]byte, size)
		if _, err := io.ReadFull(r, f); err != nil {
			return err
		}
		st.receive(n, h.Node, seq, f)
	}
}

// peerStatus returns the streams' status, by node id.
func (n *Node) peerStatus() []PeerStatus {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	out := make([]PeerStatus, 0, len(n.peers))
	for _, p := range n.peers {
		p.mu.Lock()
		q, acked := len(p.frames), p.acked
		p.mu.Unlock()
		out = append(out, PeerStatus{ID: p.id, Address: p.addr, Queued: q, Sent: p.sent.Load(), Acked: acked, Dropped: p.dropped.Load(), Connected: p.up.Load()})
	}
	return out
}
