package bridge_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// A lazy bridge queues QoS 0 messages while it is disconnected, as
// Mosquitto does (without queue_qos0_messages): they count towards the
// threshold and go to the remote once it connects. An automatic bridge's
// offline session does not queue them.
func TestLazyQueuesQoS0(t *testing.T) {
	remote := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	rsub, _ := testutil.Connect(t, remote.Addr, packet.Version311, "rsub")
	rsub.Subscribe(1, "l/#", 1)
	cfg := config(remote.Addr, packet.Version311, mustTopic(t, "l/#", bridge.Out, "", ""))
	cfg.Topics[0].QoS = 1
	cfg.StartType, cfg.Threshold, cfg.IdleTimeout = bridge.Lazy, 3, time.Minute
	b := startBridge(t, cfg, local.Server)
	waitState(t, b, bridge.Waiting)
	offline(t, local.Server, "local.testhost.test")
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	for _, m := range []string{"a", "b", "c"} {
		publish(t, pub, 0, "l/"+m, m, 0)
	}
	for _, want := range []string{"l/a", "l/b", "l/c"} {
		if p := expectPublish(t, rsub); p.Topic != want || p.QoS != 0 {
			t.Fatalf("got %q QoS %d, want %q QoS 0", p.Topic, p.QoS, want)
		}
	}

	// An automatic bridge whose remote is away: its session is offline
	// and QoS 0 messages are not kept for it.
	auto := config(deadAddr(t), packet.Version311, mustTopic(t, "q/#", bridge.Out, "", ""))
	auto.Name = "auto"
	startBridge(t, auto, local.Server)
	offline(t, local.Server, "local.testhost.auto")
	publish(t, pub, 0, "q/x", "x", 0)
	publish(t, pub, 1, "q/y", "y", 1)
	waitFor(t, "the QoS 1 message queued", func() bool {
		si, ok := local.Server.Session("local.testhost.auto")
		return ok && si.Queued == 1
	})
}

// offline waits until the session id exists and is offline (the bridge's
// Prime has disconnected it).
func offline(t *testing.T, srv *broker.Server, id string) {
	t.Helper()
	waitFor(t, id+" offline", func() bool {
		si, ok := srv.Session(id)
		return ok && !si.Connected
	})
}
