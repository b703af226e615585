package broker_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// serveExtra serves b on a second listener with cfg and returns its address.
func serveExtra(t *testing.T, b *testutil.Broker, cfg broker.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Serve(context.Background(), ln, cfg) }()
	t.Cleanup(func() {
		b.Stop(t)
		if err := <-done; !errors.Is(err, broker.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// Options Mosquitto sets per listener apply to that listener's clients
// only: max_qos, max_topic_alias, auto_id_prefix,
// allow_zero_length_clientid and accept_protocol_versions.
func TestListenerOptions(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true})
	allow := false
	addr := serveExtra(t, b, broker.Listener{
		MaxQoS: 1, MaxTopicAlias: broker.Unlimited, AutoIDPrefix: "lst-",
		AllowZeroLengthClientID: &allow, ProtocolVersions: []byte{4, 5},
	})

	// The default listener: Mosquitto's defaults.
	_, ack := connectWith(t, b, &packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true})
	if ack.ReasonCode != packet.Success || ack.Properties.Has(packet.PropMaximumQoS) ||
		ack.Properties.TopicAliasMaximum != 10 || !strings.HasPrefix(ack.Properties.AssignedClientID, "auto-") {
		t.Errorf("default listener CONNACK %+v", ack)
	}

	// The restricted one.
	c := testutil.Dial(t, addr, packet.Version5)
	ack = c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true})
	if ack.ReasonCode != packet.UnspecifiedError { // Mosquitto's choice
		t.Errorf("empty client id on a listener denying it: %v, want 0x80", ack.ReasonCode)
	}
	c.ExpectClosed()

	c = testutil.Dial(t, addr, packet.Version5)
	ack = c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true, ClientID: "r5"})
	if ack.ReasonCode != packet.Success || !ack.Properties.Has(packet.PropMaximumQoS) || ack.Properties.MaximumQoS != 1 ||
		ack.Properties.Has(packet.PropTopicAliasMaximum) {
		t.Fatalf("restricted listener CONNACK %v, properties %+v", ack.ReasonCode, ack.Properties)
	}
	c.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "q/#", QoS: 2}}})
	if sa := testutil.Expect[*packet.Suback](c); sa.ReasonCodes[0] != 1 {
		t.Errorf("SUBACK grants %v on a max_qos 1 listener, want 1", sa.ReasonCodes[0])
	}
	// A QoS 2 PUBLISH exceeds the announced maximum: DISCONNECT 0x9B.
	c.Send(&packet.Publish{Topic: "q/x", QoS: 2, PacketID: 2, Payload: []byte("x")})
	d := testutil.Expect[*packet.Disconnect](c)
	if d.ReasonCode != packet.QoSNotSupported {
		t.Errorf("QoS 2 PUBLISH on a max_qos 1 listener: DISCONNECT %v, want 0x9B", d.ReasonCode)
	}

	// The same subscription on the default listener is granted QoS 2.
	subscriber(t, b, packet.Version5, "d5", "q/#", 2)

	// MQTT 3.1 is not accepted there: CONNACK 1 and close.
	c = testutil.Dial(t, addr, packet.Version31)
	ack = c.Connect(&packet.Connect{ProtocolVersion: packet.Version31, CleanStart: true, ClientID: "old"})
	if ack.ReasonCode != packet.ConnackV3UnacceptableProtocolVersion {
		t.Errorf("MQTT 3.1 on a 4,5 listener: %v, want 1", ack.ReasonCode)
	}
	c.ExpectClosed()
	// But is on the default listener.
	if _, ack := testutil.Connect(t, b.Addr, packet.Version31, "old"); ack.ReasonCode != packet.ConnackV3Accepted {
		t.Errorf("MQTT 3.1 on the default listener: %v", ack.ReasonCode)
	}
}

// A listener accepting only MQTT 5 refuses 3.1.1 with CONNACK 1; one
// accepting only 3.1.1 refuses 5 with 0x84. An assigned identifier takes
// the listener's prefix.
func TestListenerProtocolVersions(t *testing.T) {
	b := start(t, broker.Config{AllowAnonymous: true, AutoIDPrefix: "global-"})
	only5 := serveExtra(t, b, broker.Listener{ProtocolVersions: []byte{5}, AutoIDPrefix: "five-"})
	only4 := serveExtra(t, b, broker.Listener{ProtocolVersions: []byte{4}})

	c := testutil.Dial(t, only5, packet.Version311)
	if ack := c.Connect(&packet.Connect{ProtocolVersion: packet.Version311, CleanStart: true, ClientID: "a"}); ack.ReasonCode != packet.ConnackV3UnacceptableProtocolVersion {
		t.Errorf("3.1.1 on a 5-only listener: %v, want 1", ack.ReasonCode)
	}
	c.ExpectClosed()
	c = testutil.Dial(t, only4, packet.Version5)
	if ack := c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true, ClientID: "a"}); ack.ReasonCode != packet.UnsupportedProtocolVersion {
		t.Errorf("5 on a 3.1.1-only listener: %v, want 0x84", ack.ReasonCode)
	}
	c.ExpectClosed()

	c = testutil.Dial(t, only5, packet.Version5)
	if ack := c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true}); !strings.HasPrefix(ack.Properties.AssignedClientID, "five-") {
		t.Errorf("assigned id %q on a listener with prefix five-", ack.Properties.AssignedClientID)
	}
	c = testutil.Dial(t, only4, packet.Version311)
	if ack := c.Connect(&packet.Connect{ProtocolVersion: packet.Version311, CleanStart: true}); ack.ReasonCode != packet.ConnackV3Accepted {
		t.Errorf("3.1.1 with an empty id: %v", ack.ReasonCode)
	}
	c = testutil.Dial(t, b.Addr, packet.Version5)
	if ack := c.Connect(&packet.Connect{ProtocolVersion: packet.Version5, CleanStart: true}); !strings.HasPrefix(ack.Properties.AssignedClientID, "global-") {
		t.Errorf("assigned id %q on the default listener", ack.Properties.AssignedClientID)
	}
}
