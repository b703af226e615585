package broker_test

import (
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// A message routed to a resumed session while its queue is still being read
// back from the store waits behind that queue: a publisher's later QoS 0
// message never overtakes its earlier QoS 1 ones, which were queued while
// the subscriber was away [MQTT-4.6.0-6]. The reload runs after CONNACK, so
// the QoS 0 message sent at once lands in it in most tries.
func TestResumedQueueKeepsPublisherOrder(t *testing.T) {
	for _, kind := range []string{"memory", "bolt"} {
		t.Run(kind, func(t *testing.T) {
			var st broker.Store = store.NewMemory()
			if kind == "bolt" {
				s, err := store.OpenBolt(t.TempDir()+"/midge.db", store.BoltOptions{})
				if err != nil {
					t.Fatal(err)
				}
				st = s
			}
			t.Cleanup(func() { st.Close() })
			cfg := open_()
			cfg.Store = st
			b := testutil.StartBroker(t, cfg)
			p := connect(t, b, 4, "p")
			const queued = 5
			for try := range 20 {
				id := fmt.Sprint("s", try)
				persistent := &packet.Connect{ProtocolVersion: 4, ClientID: id}
				s, _ := connectWith(t, b, persistent)
				s.Subscribe(1, id, 1)
				s.Send(&packet.Disconnect{})
				s.ExpectClosed()
				waitOffline(t, b, id)
				for i := range queued {
					pub(t, p, uint16(i+1), id, fmt.Sprint(i), 1, false)
				}
				s, _ = connectWith(t, b, persistent)
				p.Send(&packet.Publish{Topic: id, Payload: []byte("last")})
				for i := range queued {
					ackAll(t, s, expectPublish(t, s, id, fmt.Sprint(i)))
				}
				expectPublish(t, s, id, "last")
				s.Close()
			}
		})
	}
}
