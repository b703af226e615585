package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// wireStream is the test's end of a forwarding stream, speaking the
// protocol of forward.go.
type wireStream struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// readHello reads the hello a node sends.
func (w *wireStream) readHello() hello {
	w.t.Helper()
	var b [4]byte
	first, err := w.r.ReadByte()
	if err != nil || first != streamForward {
		w.t.Fatalf("first byte %x, %v", first, err)
	}
	if _, err := io.ReadFull(w.r, b[:]); err != nil {
		w.t.Fatal(err)
	}
	hb := make([]byte, binary.BigEndian.Uint32(b[:]))
	if _, err := io.ReadFull(w.r, hb); err != nil {
		w.t.Fatal(err)
	}
	var h hello
	if err := json.Unmarshal(hb, &h); err != nil {
		w.t.Fatal(err)
	}
	return h
}

// readFrame reads a frame: its sequence number and bytes.
func (w *wireStream) readFrame() (uint64, string) {
	w.t.Helper()
	var hdr [12]byte
	w.c.SetReadDeadline(time.Now().Add(testWait))
	if _, err := io.ReadFull(w.r, hdr[:]); err != nil {
		w.t.Fatal(err)
	}
	f := make([]byte, binary.BigEndian.Uint32(hdr[:4]))
	if _, err := io.ReadFull(w.r, f); err != nil {
		w.t.Fatal(err)
	}
	return binary.BigEndian.Uint64(hdr[4:]), string(f)
}

// writeUint64 writes an acknowledgement (or a frame's sequence number).
func (w *wireStream) writeUint64(v uint64) {
	w.t.Helper()
	if _, err := w.c.Write(binary.BigEndian.AppendUint64(nil, v)); err != nil {
		w.t.Fatal(err)
	}
}

// TestForwardResend checks the sender: frames stay until acknowledged,
// the unacknowledged ones are sent again, with the same sequence numbers,
// on the next stream, and Pending.Wait returns once the peer acknowledged
// the frame (and at once for a peer that is gone).
func TestForwardResend(t *testing.T) {
	t.Parallel()
	n := benchLeaderT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &peer{id: "fake", addr: ln.Addr().String(), max: 100, stop: make(chan struct{}), done: make(chan struct{}),
		wake: make(chan struct{}, 1), changed: make(chan struct{})}
	var seqs []uint64
	for i := range 5 {
		seq, ok := p.enqueue(n, fmt.Appendf(nil, "f%d", i))
		if !ok {
			t.Fatal("enqueue refused")
		}
		seqs = append(seqs, seq)
	}
	n.wg.Add(1)
	go n.runPeer(p)
	defer p.halt()

	accept := func() *wireStream {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		w := &wireStream{t: t, c: c, r: bufio.NewReader(c)}
		if h := w.readHello(); h.Node != n.ID() || h.Epoch != n.epoch() {
			t.Fatalf("hello %+v", h)
		}
		return w
	}
	w := accept()
	for i := range 5 {
		if seq, f := w.readFrame(); seq != seqs[i] || f != fmt.Sprintf("f%d", i) {
			t.Fatalf("frame %d = %d %q", i, seq, f)
		}
	}
	pd := &Pending{n: n, waits: []peerSeq{{p, seqs[1]}}}
	w.writeUint64(seqs[1]) // f0 and f1 handled
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := pd.Wait(ctx); err != nil {
		t.Fatalf("Wait after the ack: %v", err)
	}
	w.c.Close() // the stream breaks: f2..f4 go again

	w = accept()
	for i := 2; i < 5; i++ {
		if seq, f := w.readFrame(); seq != seqs[i] || f != fmt.Sprintf("f%d", i) {
			t.Fatalf("frame after the reconnect = %d %q, want %d f%d", seq, f, seqs[i], i)
		}
	}
	pd = &Pending{n: n, waits: []peerSeq{{p, seqs[4]}}}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := pd.Wait(short); err == nil {
		t.Fatal("Wait returned before the frame was acknowledged")
	}
	w.writeUint64(seqs[4])
	if err := pd.Wait(ctx); err != nil {
		t.Fatalf("Wait after the ack: %v", err)
	}
	testutil.WaitWithin(t, testWait, "an empty queue", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.frames) == 0
	})
	seq, _ := p.enqueue(n, []byte("last"))
	pd = &Pending{n: n, waits: []peerSeq{{p, seq}}}
	p.halt() // memberlist declared it dead: nobody waits for it
	if err := pd.Wait(ctx); err != nil {
		t.Fatalf("Wait for a peer gone: %v", err)
	}
}

// benchLeaderT starts a single-node cluster for a test.
func benchLeaderT(t *testing.T) *Node {
	n, err := Start(context.Background(), Config{Name: "r", NodeID: "a", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		BootstrapExpect: 1, DataDir: t.TempDir(), Logger: testLogger(t, "a")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestForwardReceiverDedup checks the receiver: a frame sent again on a
// new stream of the same life is not handed on twice, acknowledgements
// wait for Deliver's done, in order, and a new life starts afresh.
func TestForwardReceiverDedup(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex // guards got, dones
	var got []string
	dones := make(map[string]func())
	n, err := Start(context.Background(), Config{Name: "r", NodeID: "b", Listen: "127.0.0.1:0", Gossip: "127.0.0.1:0",
		BootstrapExpect: 1, DataDir: t.TempDir(), Logger: testLogger(t, "b"),
		Deliver: func(from string, f []byte, done func()) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, from+":"+string(f))
			dones[string(f)] = done
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	finish := func(f string) {
		mu.Lock()
		d := dones[f]
		mu.Unlock()
		if d == nil {
			t.Fatalf("%s was not delivered", f)
		}
		d()
	}
	dial := func(epoch uint64) *wireStream {
		h, _ := json.Marshal(hello{Cluster: "r", Node: "x", Epoch: epoch})
		c, err := net.Dial("tcp", n.Addr())
		if err != nil {
			t.Fatal(err)
		}
		b := append([]byte{streamForward}, binary.BigEndian.AppendUint32(nil, uint32(len(h)))...)
		c.Write(append(b, h...))
		return &wireStream{t: t, c: c, r: bufio.NewReader(c)}
	}
	send := func(w *wireStream, seq uint64, f string) {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(f)))
		b = binary.BigEndian.AppendUint64(b, seq)
		if _, err := w.c.Write(append(b, f...)); err != nil {
			t.Fatal(err)
		}
	}
	readAck := func(w *wireStream) uint64 {
		t.Helper()
		var b [8]byte
		w.c.SetReadDeadline(time.Now().Add(testWait))
		if _, err := io.ReadFull(w.r, b[:]); err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint64(b[:])
	}
	delivered := func(k int) {
		t.Helper()
		testutil.WaitWithin(t, testWait, fmt.Sprintf("%d frames delivered", k), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= k
		})
	}

	w := dial(7)
	send(w, 10, "a")
	send(w, 11, "b")
	send(w, 13, "c") // sequence numbers are shared by the sender's streams: gaps are normal
	delivered(3)
	finish("b") // out of order: nothing acknowledged before a is done
	finish("a")
	if a := readAck(w); a != 11 {
		t.Fatalf("ack %d, want 11", a)
	}
	w.c.Close()

	w = dial(7) // the same life again: b and c are sent again
	send(w, 11, "b")
	send(w, 13, "c")
	send(w, 14, "d")
	delivered(4)
	if a := readAck(w); a != 11 {
		t.Fatalf("first ack of the new stream %d, want 11", a)
	}
	finish("c")
	finish("d")
	// 13 may be acknowledged alone before d is done.
	if a := readAck(w); a == 13 {
		if a := readAck(w); a != 14 {
			t.Fatalf("ack %d after 13, want 14", a)
		}
	} else if a != 14 {
		t.Fatalf("ack %d, want 13 or 14", a)
	}
	w.c.Close()

	w = dial(8) // a new life of x numbers from scratch
	send(w, 1, "e")
	delivered(5)
	finish("e")
	if a := readAck(w); a != 1 {
		t.Fatalf("ack %d, want 1", a)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"x:a", "x:b", "x:c", "x:d", "x:e"}; !slices.Equal(got, want) {
		t.Errorf("delivered %q, want %q", got, want)
	}
	if d := n.dupFrames.Load(); d != 2 {
		t.Errorf("%d duplicates dropped, want 2", d)
	}
}

// TestForwardBackpressure checks that Forward waits while a peer's queue
// is full, goes on once an acknowledgement frees room, and gives up with
// ErrQueueFull (counting the frame dropped) when its context ends first;
// Broadcast drops at once.
func TestForwardBackpressure(t *testing.T) {
	t.Parallel()
	n := benchLeaderT(t)
	p := &peer{id: "slow", addr: "127.0.0.1:1", max: 2, stop: make(chan struct{}), done: make(chan struct{}),
		wake: make(chan struct{}, 1), changed: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	first, err := n.forwardTo(ctx, []*peer{p}, []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.forwardTo(ctx, []*peer{p}, []byte("2")); err != nil {
		t.Fatal(err)
	}
	if n.Broadcast(nil) != 0 {
		t.Fatal("Broadcast found a peer") // the fake peer is not in the node's list
	}
	if _, ok := p.enqueue(n, []byte("x")); ok {
		t.Fatal("a full queue took a frame")
	}
	third := make(chan error, 1)
	go func() {
		_, err := n.forwardTo(ctx, []*peer{p}, []byte("3"))
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("Forward returned (%v) while the queue was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	p.ack(first.waits[0].seq) // frees one place
	if err := <-third; err != nil {
		t.Fatalf("Forward after the ack: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := n.forwardTo(short, []*peer{p}, []byte("4")); err != ErrQueueFull {
		t.Fatalf("Forward to a full queue past its deadline: %v, want ErrQueueFull", err)
	}
	if d := p.dropped.Load(); d != 1 {
		t.Errorf("%d dropped, want 1", d)
	}
	p.mu.Lock()
	var got []string
	for _, f := range p.frames {
		got = append(got, string(f.data))
	}
	p.mu.Unlock()
	if want := []string{"2", "3"}; !slices.Equal(got, want) {
		t.Errorf("queue %q, want %q", got, want)
	}
}
