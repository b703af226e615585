package broker_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// BenchmarkIdleConnections measures the broker's memory per idle
// connection: b.N clients connect (keep alive 300 s, as the load tool does),
// subscribe to a topic of their own and go quiet; the heap growth and the
// goroutines left, per connection, are reported. Set MIDGE_HEAP_PROFILE to a
// file name to write a heap profile.
func BenchmarkIdleConnections(b *testing.B) {
	if b.N < 1000 {
		b.N = 1000 // below that, fixed costs dominate
	}
	if os.Getenv("MIDGE_HEAP_PROFILE") != "" {
		runtime.MemProfileRate = 64
	}
	srv := broker.New(broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(context.Background(), ln, broker.Listener{})
	defer srv.Shutdown(context.Background())

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, b.N)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range b.N {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, nc)
		id := fmt.Sprintf("idle-%d", i)
		msg, _ := packet.Append(nil, &packet.Connect{ProtocolVersion: 4, ClientID: id, CleanStart: true, KeepAlive: 300}, 4)
		msg, _ = packet.Append(msg, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "idle/" + id}}}, 4)
		nc.Write(msg)
		r := packet.NewReader(nc, 64)
		r.Version = 4
		for range 2 { // CONNACK, SUBACK
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := r.ReadPacket(); err != nil {
				b.Fatalf("connection %d: %v", i, err)
			}
		}
	}
	// Let them park, then measure.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine()-g0 > b.N/100 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
	b.ReportMetric(heap/float64(b.N), "heap-bytes/conn")
	held := func(m *runtime.MemStats) float64 { return float64(m.Sys - m.HeapReleased) }
	b.ReportMetric((held(&after)-held(&before))/float64(b.N), "held-bytes/conn")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "alloc-bytes/conn")
	b.Logf("heap inuse %d idle %d released %d, stacks %d, sys %d", after.HeapInuse, after.HeapIdle, after.HeapReleased, after.StackInuse, after.Sys)
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(b.N), "goroutines/conn")
	if f := os.Getenv("MIDGE_HEAP_PROFILE"); f != "" {
		out, err := os.Create(f)
		if err == nil {
			pprof.WriteHeapProfile(out)
			out.Close()
		}
	}
}
