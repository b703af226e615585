package broker

import (
	"log/slog"
	"testing"

	"github.com/midge-mqtt/midge/bridge"
	mbroker "github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// The bridges' $SYS topics: state, address and counters, retained, as they
// change; a reload removes a bridge and starts a new one.
func TestBridgeSysAndReload(t *testing.T) {
	remote := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true})
	local := testutil.StartBroker(t, mbroker.Config{AllowAnonymous: true})
	mk := func(name string) config.Bridge {
		c := bridge.Defaults(name)
		c.Addresses = []string{remote.Addr}
		top, err := bridge.NewTopic("s/#", bridge.Out, 1, "", "")
		if err != nil {
			t.Fatal(err)
		}
		c.Topics = []bridge.Topic{top}
		c.ResolveIDs("h")
		return config.Bridge{Config: c}
	}
	var r bridgeRun
	r.start(local.Server, []config.Bridge{mk("one")}, slog.New(slog.DiscardHandler))
	defer r.stop()
	testutil.WaitFor(t, "bridge one connected", func() bool {
		bs := r.list()
		return len(bs) == 1 && bs[0].Status().State == bridge.Connected
	})
	r.publishSys()
	sub, _ := testutil.Connect(t, local.Addr, packet.Version311, "sys")
	sub.Subscribe(1, "$SYS/broker/bridges/#", 0)
	got := map[string]string{}
	for len(got) < 6 { // last_error is empty: no retained message
		p := testutil.Expect[*packet.Publish](sub)
		got[p.Topic] = string(p.Payload)
	}
	if got["$SYS/broker/bridges/one/state"] != "connected" || got["$SYS/broker/bridges/one/address"] != remote.Addr ||
		got["$SYS/broker/bridges/one/messages/sent"] != "0" {
		t.Fatalf("$SYS: %v", got)
	}
	pub, _ := testutil.Connect(t, local.Addr, packet.Version311, "pub")
	publish := &packet.Publish{Topic: "s/1", QoS: 1, PacketID: 1, Payload: []byte("x")}
	pub.Send(publish)
	testutil.Expect[*packet.Ack](pub)
	testutil.WaitFor(t, "sent counted", func() bool { return r.list()[0].Status().Sent == 1 })
	r.publishSys()
	for {
		p := testutil.Expect[*packet.Publish](sub)
		if p.Topic == "$SYS/broker/bridges/one/messages/sent" {
			if string(p.Payload) != "1" {
				t.Fatalf("sent %q", p.Payload)
			}
			break
		}
	}

	r.reload([]config.Bridge{mk("two")})
	bs := r.list()
	if len(bs) != 1 || bs[0].Status().Name != "two" {
		t.Fatalf("after reload: %d bridges", len(bs))
	}
}
