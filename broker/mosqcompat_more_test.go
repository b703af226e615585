package broker_test

// More of issue 14, one test per item: raw packets through real TCP,
// compared with Debian's Mosquitto where it has the behaviour, else
// checked against the specification.

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// pubs encodes QoS 1/2 PUBLISHes on "t", one per entry of qos, numbered
// from 1, for one write.
func pubs(t *testing.T, v byte, qos ...byte) []byte {
	var b []byte
	for i, q := range qos {
		b = append(b, pk(t, v, &packet.Publish{Topic: "t", QoS: q, PacketID: uint16(i + 1), Payload: []byte("x")})...)
	}
	return b
}

// Item 16: a client that sends more unacknowledged QoS 1 and 2 PUBLISHes
// than the Receive Maximum the server announced gets DISCONNECT 0x93
// [MQTT-3.3.4-7]; QoS 1 messages count until their PUBACK, QoS 2 ones
// until their PUBCOMP. Mosquitto 2.0.11 answers the one too many with
// PUBACK or PUBREC 0x97 (Quota exceeded) and carries on: a documented
// difference.
func TestCompatReceiveMaximumExceeded(t *testing.T) {
	v := packet.Version5
	conf := []string{"max_inflight_messages 2"}
	for _, tc := range []struct {
		name     string
		qos      []byte
		mosquito string // Mosquitto's answer to the third
	}{
		{"qos2-qos2-qos2", []byte{2, 2, 2}, "0< 5003000397"},
		{"qos2-qos2-qos1", []byte{2, 2, 1}, "0< 4003000397"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mosq, midge := testutil.Differential(t, conf, []testutil.Step{
				connStep(t, 0, v, "a"),
				{Send: pubs(t, v, tc.qos...), Close: true},
			})
			head := "0< 200900000622000a210002\n0< 50020001\n0< 50020002\n" // CONNACK with Receive Maximum 2, two PUBRECs
			if want := head + tc.mosquito + "\n0: open"; mosq.String() != want {
				t.Errorf("Mosquitto changed its answer:\n%s\nwant\n%s", mosq, want)
			}
			if want := head + "0< e00193\n0: closed"; midge.String() != want {
				t.Errorf("midge:\n%s\nwant\n%s", midge, want)
			}
		})
	}
}

// gatedStore is a Memory store whose commits wait while the gate is shut.
type gatedStore struct {
	*store.Memory
	shut atomic.Bool
	open chan struct{}
}

func (g *gatedStore) Commit(ctx context.Context, b *broker.Batch, sync bool) error {
	if g.shut.Load() {
		<-g.open
	}
	return g.Memory.Commit(ctx, b, sync)
}

// Item 16 for QoS 1: with a Store, PUBACK waits until the message is
// durable, so a client can have QoS 1 messages unacknowledged; one more
// than the Receive Maximum is refused with DISCONNECT 0x93
// [MQTT-3.3.4-7]. Within it nothing is refused, and the count falls as
// PUBACKs go out. (Mosquitto acknowledges QoS 1 at once, never holding
// one: nothing to compare.)
func TestReceiveMaximumQoS1(t *testing.T) {
	st := &gatedStore{Memory: store.NewMemory(), open: make(chan struct{})}
	cfg := open()
	cfg.Store, cfg.MaxInflightMessages = st, 2
	b := start(t, cfg)
	released := false
	release := func() {
		if !released {
			released = true
			close(st.open)
		}
	}
	t.Cleanup(release)

	// A persistent subscriber: deliveries to it are stored, and a PUBACK
	// to the publisher waits for the commit.
	cp := &packet.Connect{ProtocolVersion: 5, ClientID: "s", CleanStart: true, KeepAlive: 60}
	cp.Properties.SetUint(packet.PropSessionExpiry, 60)
	s, _ := connectWith(t, b, cp)
	s.Subscribe(1, "t", 1)

	st.shut.Store(true)
	within := connect(t, b, 5, "within")
	within.SendRaw(pubs(t, 5, 1, 1))
	within.ExpectNothing(100 * time.Millisecond) // the PUBACKs wait for the store

	over := connect(t, b, 5, "over")
	over.SendRaw(pubs(t, 5, 1, 1, 1))
	expectDisconnect(t, over, packet.ReceiveMaximumExceeded)

	release()
	expectAck(t, within, packet.TypePuback, 1)
	expectAck(t, within, packet.TypePuback, 2)
	// Acknowledged: the window is free again.
	within.SendRaw(pubs(t, 5, 1, 1))
	expectAck(t, within, packet.TypePuback, 1)
	expectAck(t, within, packet.TypePuback, 2)
}
