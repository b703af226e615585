package broker_test

import (
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/systree"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// benchPeer is a raw client for BenchmarkDelivery that allocates nothing
// per packet once connected, so that the allocations the benchmark reports
// are the broker's.
type benchPeer struct {
	nc   net.Conn
	r    *packet.Reader
	got  atomic.Int64 // PUBLISHes (subscriber) or acknowledgements (publisher) read
	tick chan struct{}
}

func dialPeer(b *testing.B, addr, id string) *benchPeer {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	p := &benchPeer{nc: nc, r: packet.NewReader(nc, 64<<10), tick: make(chan struct{}, 1)}
	p.r.Version = packet.Version311
	p.send(b, &packet.Connect{ProtocolVersion: packet.Version311, ClientID: id, CleanStart: true})
	p.expect(b, packet.TypeConnack)
	return p
}

func (p *benchPeer) send(b *testing.B, pk packet.Packet) {
	buf, err := packet.Append(nil, pk, packet.Version311)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.nc.Write(buf); err != nil {
		b.Fatal(err)
	}
}

func (p *benchPeer) expect(b *testing.B, t packet.Type) {
	p.nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	h, err := p.r.ReadHeader()
	if err == nil {
		_, err = p.r.ReadBody(h)
	}
	if err != nil || h.Type != t {
		b.Fatalf("read %v, %v; want %v", h.Type, err, t)
	}
	p.nc.SetReadDeadline(time.Time{})
}

// drain reads packets until the connection closes, counting PUBLISHes and
// acknowledgements and acknowledging QoS 1 PUBLISHes.
func (p *benchPeer) drain() {
	ack := []byte{byte(packet.TypePuback) << 4, 2, 0, 0}
	for {
		h, err := p.r.ReadHeader()
		if err != nil {
			return
		}
		body, err := p.r.ReadBody(h)
		if err != nil {
			return
		}
		if h.Type == packet.TypePublish && h.Flags>>1&3 == 1 {
			n := int(body[0])<<8 | int(body[1])
			ack[2], ack[3] = body[2+n], body[3+n]
			if _, err := p.nc.Write(ack); err != nil {
				return
			}
		}
		p.got.Add(1)
		select {
		case p.tick <- struct{}{}:
		default:
		}
	}
}

// goroutinesCreated reads the runtime's count of goroutines created.
func goroutinesCreated() uint64 {
	return systree.Uint64Metric("/sched/goroutines-created:goroutines")
}

// BenchmarkDelivery publishes over TCP to n subscribers over TCP and reports
// the allocations and goroutines created per delivered message: the whole
// publish path, from the publisher's socket to the subscribers' sockets,
// acknowledgements included at QoS 1. The clients allocate nothing per
// message, so the allocations are the broker's. At most window messages are
// in flight, so queues stay short.
func BenchmarkDelivery(b *testing.B) {
	const window = 32
	for _, qos := range []byte{0, 1} {
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("qos=%d/subs=%d", qos, n), func(b *testing.B) {
				cfg := open()
				br := testutil.StartBroker(b, cfg)
				subs := make([]*benchPeer, n)
				for i := range subs {
					s := dialPeer(b, br.Addr, fmt.Sprint("sub", i))
					s.send(b, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "bench/t", QoS: qos}}})
					s.expect(b, packet.TypeSuback)
					go s.drain()
					subs[i] = s
				}
				pub := dialPeer(b, br.Addr, "pub")
				go pub.drain()
				msg, err := packet.Append(nil, &packet.Publish{Topic: "bench/t", QoS: qos, PacketID: 1, Payload: make([]byte, 64)}, packet.Version311)
				if err != nil {
					b.Fatal(err)
				}
				idAt := len(msg) - 64 - 2
				// least returns the fewest messages any subscriber has.
				least := func() int64 {
					m := subs[0].got.Load()
					for _, s := range subs[1:] {
						m = min(m, s.got.Load())
					}
					return m
				}
				// wait waits until every subscriber has want messages. It
				// allocates nothing: one ticker serves every wait.
				poll := time.NewTicker(time.Millisecond)
				defer poll.Stop()
				wait := func(want int64) {
					deadline := time.Now().Add(testutil.Timeout)
					for least() < want {
						select {
						case <-subs[0].tick:
						case <-poll.C:
						}
						if time.Now().After(deadline) {
							b.Fatalf("subscribers got %d of %d messages", least(), want)
						}
					}
				}
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				g0 := goroutinesCreated()
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if qos > 0 {
						id := uint16(i%65535 + 1)
						msg[idAt], msg[idAt+1] = byte(id>>8), byte(id)
					}
					if _, err := pub.nc.Write(msg); err != nil {
						b.Fatal(err)
					}
					if i >= window {
						wait(int64(i - window))
					}
				}
				wait(int64(b.N))
				b.StopTimer()
				g1 := goroutinesCreated()
				runtime.ReadMemStats(&ms1)
				d := float64(b.N * n)
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/d, "allocs/delivery")
				b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/d, "B/delivery")
				b.ReportMetric(float64(g1-g0)/d, "goroutines/delivery")
			})
		}
	}
}
