package broker_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// BenchmarkSessionEnqueue measures what a message queued for an offline
// session costs the broker (in memory, no store): 100 persistent sessions
// subscribe at QoS 1 to one topic and leave, then messages are published to
// it, one queued delivery per operation, every 100 sharing one Message as
// in a fan-out to offline devices. It reports the heap each queued delivery
// holds after a collection (heap-B/queued; the process's RSS is about twice
// that at GOGC 100) and the allocations per delivery. "midge bench queue"
// measures the same figure as RSS against any broker.
func BenchmarkSessionEnqueue(b *testing.B) {
	const sessions = 100
	srv := broker.New(broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited,
		MaxQueuedMessages: broker.Unlimited, MaxInflightMessages: broker.Unlimited})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(context.Background(), ln, broker.Listener{})
	defer srv.Shutdown(context.Background())
	for i := range sessions {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := packet.Append(nil, &packet.Connect{ProtocolVersion: 4, ClientID: fmt.Sprint("q", i), KeepAlive: 300}, 4)
		msg, _ = packet.Append(msg, &packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "bench/q", QoS: 1}}}, 4)
		msg = append(msg, byte(packet.TypeDisconnect)<<4, 0)
		nc.Write(msg)
		r := packet.NewReader(nc, 256)
		r.Version = 4
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for range 2 { // CONNACK, SUBACK
			if _, err := r.ReadPacket(); err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
		}
		nc.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for offline := 0; offline < sessions; {
		offline = 0
		for _, s := range srv.Sessions() {
			if !s.Connected {
				offline++
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sessions offline", offline, sessions)
		}
		time.Sleep(time.Millisecond)
	}
	payload := make([]byte, 64)
	ctx := context.Background()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	queued := 0
	for queued < b.N {
		if err := srv.Publish(ctx, &broker.Message{Topic: "bench/q", Payload: payload, QoS: 1}); err != nil {
			b.Fatal(err)
		}
		queued += sessions
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := srv.Sessions()[0].Queued; got != queued/sessions {
		b.Fatalf("a session has %d queued, want %d", got, queued/sessions)
	}
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(queued), "heap-B/queued")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(queued), "allocs/queued")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(queued), "alloc-B/queued")
}
