package broker_test

import (
	"fmt"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// A persistent session that stays offline across several restarts keeps
// everything queued for it in each.
func TestPersistOfflineAcrossRestarts(t *testing.T) {
	stores(t, func(t *testing.T, restart func() *testutil.Broker) {
		b := restart()
		persistent := &packet.Connect{ProtocolVersion: 4, ClientID: "off", CleanStart: false}
		s, _ := connectWith(t, b, persistent)
		s.Subscribe(1, "o/#", 1)
		s.Close()
		n := 0
		for range 3 {
			b = restart()
			p := connect(t, b, 4, "p")
			for range 5 {
				n++
				pub(t, p, uint16(n), "o/x", fmt.Sprint(n), 1, false)
			}
		}
		b = restart()
		s, ack := connectWith(t, b, persistent)
		if !ack.SessionPresent {
			t.Fatal("session lost")
		}
		for i := 1; i <= n; i++ {
			ackAll(t, s, expectPublish(t, s, "o/x", fmt.Sprint(i)))
		}
	})
}
