package broker_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// Reload applies new limits to new connections at once; a connection keeps
// what its CONNACK announced.
func TestReload(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true})
	old := connect(t, b, packet.Version5, "old")

	b.Reload(broker.Config{AllowAnonymous: true, MaxQoS: 1, MaxInflightMessages: 5, RetainUnavailable: true, AutoIDPrefix: "new-"})
	c := testutil.Dial(t, b.Addr, packet.Version5)
	ack := c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true})
	p := &ack.Properties
	if ack.ReasonCode != packet.Success || p.MaximumQoS != 1 || !p.Has(packet.PropMaximumQoS) || p.ReceiveMaximum != 5 ||
		!p.Has(packet.PropRetainAvailable) || p.RetainAvailable != 0 || p.AssignedClientID[:4] != "new-" {
		t.Errorf("CONNACK after Reload: %v %+v", ack.ReasonCode, p)
	}
	// The connection from before keeps Maximum QoS 2...
	if code := pub(t, old, 1, "x", "y", 2, false); code.IsError() {
		t.Errorf("QoS 2 on the connection from before the reload: %v", code)
	}
	// ...but retained messages are now refused to everyone, as Mosquitto
	// does after a reload with retain_available false.
	old.Send(&packet.Publish{Topic: "r", Payload: []byte("r"), QoS: 1, PacketID: 3, Retain: true})
	if d := testutil.Expect[*packet.Disconnect](old); d.ReasonCode != packet.RetainNotSupported {
		t.Errorf("retained PUBLISH after Reload: DISCONNECT %v, want 0x9A", d.ReasonCode)
	}

	// Back to the defaults.
	b.Reload(broker.Config{AllowAnonymous: true})
	c = testutil.Dial(t, b.Addr, packet.Version5)
	ack = c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true, ClientID: "again"})
	if p := &ack.Properties; p.Has(packet.PropMaximumQoS) || p.Has(packet.PropRetainAvailable) || p.ReceiveMaximum != 20 {
		t.Errorf("CONNACK after reloading the defaults: %+v", p)
	}
}

// Reload starts the $SYS publisher that sys_interval 0 had kept off.
func TestReloadStartsSys(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, SysInterval: broker.Unlimited})
	c := subscriber(t, b, packet.Version311, "watcher", "$SYS/broker/version", 0)
	b.Reload(broker.Config{AllowAnonymous: true, SysInterval: time.Hour})
	if p := testutil.Expect[*packet.Publish](c); p.Topic != "$SYS/broker/version" {
		t.Errorf("got %q after enabling $SYS", p.Topic)
	}
}
