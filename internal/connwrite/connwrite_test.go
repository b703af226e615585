package connwrite

import (
	"bytes"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// A large payload is written from the message, after its header, and the
// bytes on the wire are those of the packet encoded in one piece.
func TestAppendPublishVectored(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var pool Pool[int]
	buf := pool.Get()
	small := &packet.Publish{Topic: "s", Payload: []byte("x")}
	large := &packet.Publish{Topic: "l", QoS: 1, PacketID: 7, Payload: bytes.Repeat([]byte{'y'}, LargePayload)}
	for _, p := range []*packet.Publish{small, large, small} {
		if err := buf.AppendPublish(p, packet.Version5, 0, true); err != nil {
			t.Fatal(err)
		}
	}
	if len(buf.vec) == 0 {
		t.Fatal("large payload copied into the buffer")
	}
	var want []byte
	for _, p := range []*packet.Publish{small, large, small} {
		want, _ = packet.Append(want, p, packet.Version5)
	}
	got := make(chan []byte)
	go func() {
		r := make([]byte, len(want))
		n := 0
		for n < len(r) {
			m, err := b.Read(r[n:])
			if err != nil {
				break
			}
			n += m
		}
		got <- r[:n]
	}()
	if _, err := buf.WriteTo(a); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("wrote %d bytes, not the %d of the packets", len(g), len(want))
	}
	var out Totals
	buf.Flush(&out)
	if out.Msgs.Load() != 3 || out.Pubs.Load() != 3 || out.Types[packet.TypePublish].Load() != 3 {
		t.Errorf("counted %d packets, %d PUBLISH", out.Msgs.Load(), out.Pubs.Load())
	}
	if err := buf.AppendPublish(large, packet.Version5, 100, true); err != ErrTooLarge {
		t.Errorf("over Maximum Packet Size: %v, want ErrTooLarge", err)
	}
	pool.Put(buf)
}

// Aliases: a topic's first PUBLISH carries topic and alias, later ones the
// alias only; beyond the maximum, topics go without one.
func TestAliases(t *testing.T) {
	a := Aliases{Max: 1}
	p := packet.Publish{Topic: "a"}
	a.Apply(&p)
	if p.Topic != "a" || p.Properties.TopicAlias != 1 {
		t.Fatalf("first: %q alias %d", p.Topic, p.Properties.TopicAlias)
	}
	p = packet.Publish{Topic: "a"}
	a.Apply(&p)
	if p.Topic != "" || p.Properties.TopicAlias != 1 {
		t.Fatalf("second: %q alias %d", p.Topic, p.Properties.TopicAlias)
	}
	p = packet.Publish{Topic: "b"}
	a.Apply(&p)
	if p.Topic != "b" || p.Properties.Has(packet.PropTopicAlias) {
		t.Fatalf("beyond the maximum: %q alias %d", p.Topic, p.Properties.TopicAlias)
	}
}

// The gate runs one writer at a time, makes it look again after a Wake,
// and Stop waits for it and starts no other.
func TestGate(t *testing.T) {
	var g Gate
	var runs, passes atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	exited := make(chan struct{}, 2)
	var writer func()
	writer = func() {
		runs.Add(1)
		for {
			g.Pass()
			if passes.Add(1) == 1 {
				entered <- struct{}{}
				<-release
			}
			if g.Idle(func() {}) {
				exited <- struct{}{}
				return
			}
		}
	}
	wake := func() {
		if g.Wake() {
			go writer()
		}
	}
	wake()
	<-entered
	wake() // while it runs: it must look again, not start another
	close(release)
	<-exited
	g.Stop()
	if runs.Load() != 1 || passes.Load() != 2 {
		t.Fatalf("%d writers, %d passes; want 1 writer, 2 passes", runs.Load(), passes.Load())
	}
	wake()
	if runs.Load() != 1 {
		t.Fatal("a writer started after Stop")
	}
}

// Starter runs the function with its argument on a goroutine of its own,
// and starting one allocates nothing once its records are made.
func TestStarter(t *testing.T) {
	var s Starter[*chan int]
	ch := make(chan int)
	send := func(c *chan int) { *c <- 1 }
	s.Go(send, &ch)
	if <-ch != 1 {
		t.Fatal("not run")
	}
	if n := testing.AllocsPerRun(1000, func() {
		s.Go(send, &ch)
		<-ch
	}); n != 0 {
		t.Errorf("%v allocations per goroutine started", n)
	}
}

// A Wake that comes while the writer runs, before Stop, is answered: the
// writer looks again (the connection's last packet, a DISCONNECT, is
// queued so, and Stop waits for it to be written) instead of ending.
func TestGateWakeBeforeStop(t *testing.T) {
	var g Gate
	if !g.Wake() {
		t.Fatal("no writer started")
	}
	g.Pass() // the writer collects: nothing yet
	g.Wake() // the last packet is queued
	stopped := make(chan struct{})
	go func() {
		g.Stop()
		close(stopped)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		dead := g.dead
		g.mu.Unlock()
		if dead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Stop did not stop the gate")
		}
		runtime.Gosched()
	}
	if g.Idle(func() {}) {
		t.Fatal("the writer ended without looking at what was queued before Stop")
	}
	g.Pass()
	if !g.Idle(func() {}) {
		t.Fatal("the writer did not end once nothing was left")
	}
	<-stopped
}
