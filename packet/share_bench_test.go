package packet_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// BenchmarkEncodeShare compares the two ways a broker can write one
// message to n subscribers that need identical bytes (same protocol
// version, QoS, no topic alias or subscription identifier): encoding the
// PUBLISH for each subscriber, as midge's writers do today, or encoding it
// once and copying the bytes into each subscriber's buffer, patching the
// packet identifier at QoS 1. One operation is one message to all n; the
// ns/delivery metric is what a delivery costs either way.
func BenchmarkEncodeShare(b *testing.B) {
	payload := bytes.Repeat([]byte{'x'}, 64)
	topic := "sensors/building-1/floor-2/room-3/temperature"
	for _, qos := range []byte{0, 1} {
		for _, n := range []int{10, 1000} {
			bufs := make([][]byte, n)
			for i := range bufs {
				bufs[i] = make([]byte, 0, 64<<10)
			}
			reset := func() {
				for i := range bufs {
					if len(bufs[i]) > 60<<10 {
						bufs[i] = bufs[i][:0]
					}
				}
			}
			b.Run(fmt.Sprintf("qos=%d/subs=%d/per-subscriber", qos, n), func(b *testing.B) {
				b.ReportAllocs()
				id := uint16(0)
				p := &packet.Publish{} // reused, as a writer reuses its own
				for b.Loop() {
					reset()
					for i := range bufs {
						id++
						*p = packet.Publish{Topic: topic, QoS: qos, Payload: payload}
						if qos > 0 {
							p.PacketID = id | 1
						}
						out, err := packet.Append(bufs[i], p, packet.Version311)
						if err != nil {
							b.Fatal(err)
						}
						bufs[i] = out
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			})
			b.Run(fmt.Sprintf("qos=%d/subs=%d/shared", qos, n), func(b *testing.B) {
				b.ReportAllocs()
				var shared []byte
				id := uint16(0)
				p := &packet.Publish{}
				for b.Loop() {
					reset()
					*p = packet.Publish{Topic: topic, QoS: qos, PacketID: 1, Payload: payload}
					var err error
					if shared, err = packet.Append(shared[:0], p, packet.Version311); err != nil {
						b.Fatal(err)
					}
					idAt := len(shared) - len(payload) - 2 // QoS 1: the identifier precedes the payload
					for i := range bufs {
						at := len(bufs[i])
						bufs[i] = append(bufs[i], shared...)
						if qos > 0 {
							id++
							bufs[i][at+idAt], bufs[i][at+idAt+1] = byte(id>>8), byte(id|1)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			})
		}
	}
}
