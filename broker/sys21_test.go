package broker_test

import (
	"strconv"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Mosquitto 2.1's $SYS topics: packets by type, sockets, shared
// subscriptions, packets waiting to be written.
func TestSys21(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true})
	c := subscriber(t, b, packet.Version5, "counted", "$share/g/a/#", 1)
	c.Subscribe(2, "plain/#", 0)
	ping(t, c)
	pub(t, c, 3, "x", "y", 1, false)

	num := func(name string) int {
		v, ok := b.SysValues()[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s = %q", name, v)
		}
		return n
	}
	for name, want := range map[string]int{
		"$SYS/broker/mqtt/connect/received":      1,
		"$SYS/broker/mqtt/connack/sent":          1,
		"$SYS/broker/mqtt/subscribe/received":    2,
		"$SYS/broker/mqtt/suback/sent":           2,
		"$SYS/broker/mqtt/pingreq/received":      1,
		"$SYS/broker/mqtt/pingresp/sent":         1,
		"$SYS/broker/mqtt/publish/received":      1,
		"$SYS/broker/mqtt/puback/sent":           1,
		"$SYS/broker/mqtt/publish/sent":          0,
		"$SYS/broker/mqtt/auth/received":         0,
		"$SYS/broker/mqtt/publish/dropped":       0,
		"$SYS/broker/connections/socket/count":   1,
		"$SYS/broker/shared_subscriptions/count": 1,
		"$SYS/broker/subscriptions/count":        2,
		"$SYS/broker/packet/out/count":           0,
		"$SYS/broker/packet/out/bytes":           0,
	} {
		testutil.WaitFor(t, name, func() bool { return num(name) == want })
	}
	c.Send(&packet.Unsubscribe{PacketID: 4, Filters: []string{"$share/g/a/#"}})
	testutil.WaitFor(t, "the shared subscription gone", func() bool {
		return num("$SYS/broker/shared_subscriptions/count") == 0 && num("$SYS/broker/mqtt/unsubscribe/received") == 1 &&
			num("$SYS/broker/mqtt/unsuback/sent") == 1
	})
}
