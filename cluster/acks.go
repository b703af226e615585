package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// The acknowledged side of forwarding (forward.go describes the stream):
// the receiver's memory of what it handed on, its acknowledgements, and
// Forward and Pending, with which a sender waits for them.

// ErrQueueFull is returned by Forward when a peer's queue stayed full
// until the context was done: the frame was not queued for that peer.
var ErrQueueFull = errors.New("cluster: forwarding queue full")

// inbound is what a node remembers of the frames it received: per sending
// node, the life (epoch) it last heard from and what it handed on.
type inbound struct {
	mu      sync.Mutex         // guards senders
	senders map[string]*sender // by node id
}

// sender returns the record of node's life epoch, replacing that of an
// earlier life: a new life numbers its frames from scratch.
func (in *inbound) sender(node string, epoch uint64) *sender {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.senders[node]
	if s == nil || s.epoch != epoch {
		s = &sender{epoch: epoch, changed: make(chan struct{})}
		in.senders[node] = s
	}
	return s
}

// sender is the receiving side of one life of another node, shared by its
// successive streams.
type sender struct {
	epoch uint64

	handMu sync.Mutex // held while a frame is checked and handed on: one at a time, in order; guards handed
	handed uint64     // the highest sequence number handed on

	mu      sync.Mutex    // guards pending, done, changed
	pending []*inFrame    // handed on and not finished, in order
	done    uint64        // every frame up to done has finished: what to acknowledge
	changed chan struct{} // closed and replaced when done advances
}

// inFrame is a frame handed on.
type inFrame struct {
	seq      uint64
	finished bool
}

// receive hands frame seq of node from on, unless it was already (a
// frame sent again after a broken stream): its acknowledgement then
// follows that of the first copy.
func (s *sender) receive(n *Node, from string, seq uint64, frame []byte) {
	s.handMu.Lock()
	defer s.handMu.Unlock()
	if seq <= s.handed {
		n.dupFrames.Add(1)
		return
	}
	s.handed = seq
	e := &inFrame{seq: seq}
	s.mu.Lock()
	s.pending = append(s.pending, e)
	s.mu.Unlock()
	finish := sync.OnceFunc(func() { s.finish(e) })
	switch {
	case n.cfg.Deliver != nil:
		n.cfg.Deliver(from, frame, finish)
	case n.cfg.OnFrame != nil:
		n.cfg.OnFrame(from, frame)
		finish()
	default:
		finish()
	}
}

// finish records that e was handled, and advances done past every frame
// finished in order.
func (s *sender) finish(e *inFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.finished = true
	k := 0
	for k < len(s.pending) && s.pending[k].finished {
		s.done = s.pending[k].seq
		k++
	}
	if k == 0 {
		return
	}
	clear(s.pending[:k])
	s.pending = s.pending[k:]
	close(s.changed)
	s.changed = make(chan struct{})
}

// ackForward writes s's acknowledgements to c as done advances, until
// stop is closed or a write fails (which closes c).
func ackForward(c net.Conn, s *sender, stop <-chan struct{}) {
	var last uint64
	var b [8]byte
	for {
		s.mu.Lock()
		done, changed := s.done, s.changed
		s.mu.Unlock()
		if done > last {
			binary.BigEndian.PutUint64(b[:], done)
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(b[:]); err != nil {
				c.Close()
				return
			}
			last = done
			continue
		}
		select {
		case <-changed:
		case <-stop:
			return
		}
	}
}

// Pending is a frame Forward queued: Wait tells when the nodes it was
// queued for have acknowledged it.
type Pending struct {
	n     *Node
	waits []peerSeq
}

// peerSeq is a frame's sequence number on one peer's stream.
type peerSeq struct {
	p   *peer
	seq uint64
}

// Forward queues frame for every other live node, in order per node, as
// Broadcast does, but waits for room while a peer's queue is full, until
// ctx is done: that peer then does not get the frame, and Forward returns
// ErrQueueFull (with the Pending of the others). frame must not be changed
// afterwards.
func (n *Node) Forward(ctx context.Context, frame []byte) (*Pending, error) {
	if len(frame) > MaxFrameSize {
		return nil, fmt.Errorf("cluster: frame of %d bytes, more than %d", len(frame), MaxFrameSize)
	}
	return n.forwardTo(ctx, n.livePeers(), frame)
}

// forwardTo is Forward to peers.
func (n *Node) forwardTo(ctx context.Context, peers []*peer, frame []byte) (*Pending, error) {
	pd := &Pending{n: n}
	var err error
	for _, p := range peers {
		if e := pd.add(ctx, p, frame); e != nil {
			err = e
		}
	}
	return pd, err
}

// ForwardTo queues frame for node id alone, as Send does, but waits for
// room while its queue is full, until ctx is done (ErrQueueFull: the frame
// is not queued, and counted dropped), and adds the frame to pd, so that
// pd.Wait waits for its acknowledgement too. A nil pd starts a new
// Pending; ForwardTo returns the Pending. A node without a stream (not
// alive, or this node) is not waited for. frame must not be changed
// afterwards.
func (n *Node) ForwardTo(ctx context.Context, pd *Pending, id string, frame []byte) (*Pending, error) {
	if pd == nil {
		pd = &Pending{n: n}
	}
	if len(frame) > MaxFrameSize {
		return pd, fmt.Errorf("cluster: frame of %d bytes, more than %d", len(frame), MaxFrameSize)
	}
	n.peersMu.Lock()
	p := n.peers[id]
	n.peersMu.Unlock()
	if p == nil {
		return pd, nil
	}
	return pd, pd.add(ctx, p, frame)
}

// add queues frame for p, waiting for room until ctx is done, and records
// it for Wait. A peer that has stopped is skipped.
func (pd *Pending) add(ctx context.Context, p *peer, frame []byte) error {
	for {
		seq, ok := p.enqueue(pd.n, frame)
		if ok {
			pd.waits = append(pd.waits, peerSeq{p: p, seq: seq})
			return nil
		}
		p.mu.Lock()
		gone, full, changed := p.gone, len(p.frames) >= p.max, p.changed
		p.mu.Unlock()
		if gone {
			return nil // nobody to wait for
		}
		if !full {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			p.dropped.Add(1)
			return ErrQueueFull
		}
	}
}

// Wait waits until every node the frame was queued for has acknowledged
// it (handled it: Config.Deliver called done), or has stopped being a
// peer (memberlist declared it dead or gone: its subscribers went with
// it), or ctx is done (its error). It returns ErrClosed if the node closed
// meanwhile.
func (pd *Pending) Wait(ctx context.Context) error {
	for _, w := range pd.waits {
		for {
			w.p.mu.Lock()
			ok := w.p.gone || w.p.acked >= w.seq
			changed := w.p.changed
			w.p.mu.Unlock()
			if ok {
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if pd.n.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}
