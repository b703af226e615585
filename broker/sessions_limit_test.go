package broker_test

import (
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestMaxSessions checks global_max_clients (Config.MaxSessions) over TCP:
// connected and offline persistent sessions count; one more new client is
// refused (MQTT 5: CONNACK 0x89 Server busy; 3.1.1: closed without a
// CONNACK, as Mosquitto 2.1 does); a client resuming its own session is not;
// and once a session ends there is room again.
func TestMaxSessions(t *testing.T) {
	t.Parallel()
	cfg := open()
	cfg.MaxSessions = 2
	b := start(t, cfg)

	a := connect(t, b, packet.Version5, "a")
	persistent := func(id string) *packet.Connect {
		cp := &packet.Connect{ProtocolVersion: packet.Version5, ClientID: id, KeepAlive: 60}
		cp.Properties.SetUint(packet.PropSessionExpiry, 300)
		return cp
	}
	p, ack := connectWith(t, b, persistent("p"))
	if ack.ReasonCode != packet.Success {
		t.Fatalf("p: CONNACK %v", ack.ReasonCode)
	}
	p.Send(&packet.Disconnect{})
	p.ExpectClosed()

	// a (connected) and p (offline, persistent): full.
	c, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version5, ClientID: "c", CleanStart: true, KeepAlive: 60})
	if ack.ReasonCode != packet.ServerBusy {
		t.Fatalf("third session: CONNACK %v, want Server busy", ack.ReasonCode)
	}
	c.ExpectClosed()
	old := testutil.Dial(t, b.Addr, packet.Version311)
	old.Send(&packet.Connect{ProtocolVersion: packet.Version311, ClientID: "d", CleanStart: true, KeepAlive: 60})
	if got := old.ExpectClosed(); len(got) != 0 {
		t.Fatalf("3.1.1 client over the limit got %v, want the connection closed without a CONNACK", got)
	}

	// p resumes its own session: not a new one.
	p2, ack := connectWith(t, b, persistent("p"))
	if ack.ReasonCode != packet.Success || !ack.SessionPresent {
		t.Fatalf("p resuming: CONNACK %v present %v", ack.ReasonCode, ack.SessionPresent)
	}
	// a takes its clean session over from a second connection: not refused.
	a2, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version5, ClientID: "a", CleanStart: true, KeepAlive: 60})
	if ack.ReasonCode != packet.Success {
		t.Fatalf("a taking over: CONNACK %v", ack.ReasonCode)
	}
	a.ExpectClosed()

	// a's clean session ends with its connection: room for one more.
	a2.Send(&packet.Disconnect{})
	a2.ExpectClosed()
	testutil.WaitFor(t, "a new client admitted after a's session ended", func() bool {
		e := testutil.Dial(t, b.Addr, packet.Version5)
		ack := e.Connect(&packet.Connect{ClientID: "e", CleanStart: true, KeepAlive: 60})
		return ack.ReasonCode == packet.Success
	})
	p2.Close()
}
