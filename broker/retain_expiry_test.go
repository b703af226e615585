package broker_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestRetainExpiryInterval: with retain_expiry_interval
// (Config.RetainExpiryInterval) a retained message whose Message Expiry
// Interval has passed leaves memory though nobody subscribes to it; a
// fresh one and one without expiry stay; without the option the expired
// one stays until it is next matched, as in Mosquitto.
func TestRetainExpiryInterval(t *testing.T) {
	t.Parallel()
	for _, scan := range []bool{true, false} {
		var offset atomic.Int64 // the broker's clock runs ahead by this
		cfg := open()
		cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		if scan {
			cfg.RetainExpiryInterval = 20 * time.Millisecond
		}
		b := start(t, cfg)
		c := connect(t, b, packet.Version5, "pub")
		short := &packet.Publish{Topic: "t/short", Retain: true, Payload: []byte("x")}
		short.Properties.SetUint(packet.PropMessageExpiry, 10)
		c.Send(short)
		c.Send(&packet.Publish{Topic: "t/forever", Retain: true, Payload: []byte("y")})
		testutil.WaitFor(t, "two retained messages", func() bool { return b.Server.Stats().Retained == 2 })
		offset.Store(int64(11 * time.Second))
		long := &packet.Publish{Topic: "t/long", Retain: true, Payload: []byte("z")}
		long.Properties.SetUint(packet.PropMessageExpiry, 10)
		c.Send(long)
		if scan {
			names := func() string {
				var out []string
				b.Server.RetainedMessages("#", func(m *broker.Message) bool { out = append(out, m.Topic); return true })
				slices.Sort(out)
				return strings.Join(out, " ")
			}
			testutil.WaitFor(t, "t/short freed, t/forever and t/long kept", func() bool { return names() == "t/forever t/long" })
		} else {
			// The expired message stays in memory (nothing scans) until
			// it is next matched.
			testutil.WaitFor(t, "three retained messages", func() bool { return b.Server.Stats().Retained == 3 })
		}
	}
}
