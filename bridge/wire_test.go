package bridge

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Packets sent from several goroutines, in bursts and with pauses, arrive
// whole and in each sender's order. Regression: a writer woken with
// nothing to write left its two buffers on one array, and the next write
// was overwritten while it was written (lost, repeated and reordered
// PUBLISHes under load).
func TestWireKeepsPackets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := newWire(a, packet.Version311, 5*time.Second)
	w.start()
	defer w.close(nil)
	const senders, each = 4, 3000
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := &packet.Publish{Topic: fmt.Sprintf("t/%d", s), QoS: 1, PacketID: uint16(i + 1), Payload: []byte(fmt.Sprintf("%d-%d", s, i))}
				if err := w.send(p); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					time.Sleep(100 * time.Microsecond) // let the writer drain and wake with nothing to write
				}
			}
		}()
	}
	r := packet.NewReader(b, 0)
	r.Version = packet.Version311
	next := make([]int, senders)
	for n := 0; n < senders*each; n++ {
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("after %d packets: %v", n, err)
		}
		pub := p.(*packet.Publish)
		var s, i int
		fmt.Sscanf(string(pub.Payload), "%d-%d", &s, &i)
		if pub.Topic != fmt.Sprintf("t/%d", s) || i != next[s] || pub.PacketID != uint16(i+1) {
			t.Fatalf("packet %d: %q %q id %d, want sender %d's message %d", n, pub.Topic, pub.Payload, pub.PacketID, s, next[s])
		}
		next[s]++
	}
	wg.Wait()
}
