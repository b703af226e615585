package broker_test

import (
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

func TestSmokeQoS(t *testing.T) {
	for _, v := range []byte{packet.Version31, packet.Version311, packet.Version5} {
		b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
		sub, _ := testutil.Connect(t, b.Addr, v, "sub")
		sub.Subscribe(1, "a/+", 2)
		pub, _ := testutil.Connect(t, b.Addr, v, "pub")
		for qos := byte(0); qos <= 2; qos++ {
			p := &packet.Publish{Topic: "a/b", QoS: qos, Payload: []byte{'x', '0' + qos}}
			if qos > 0 {
				p.PacketID = uint16(10 + qos)
			}
			pub.Send(p)
			switch qos {
			case 1:
				testutil.Expect[*packet.Ack](pub)
			case 2:
				rec := testutil.Expect[*packet.Ack](pub)
				if rec.Kind != packet.TypePubrec {
					t.Fatalf("got %v", rec.Kind)
				}
				pub.Send(&packet.Ack{Kind: packet.TypePubrel, PacketID: p.PacketID})
				if comp := testutil.Expect[*packet.Ack](pub); comp.Kind != packet.TypePubcomp {
					t.Fatalf("got %v", comp.Kind)
				}
			}
			got := testutil.Expect[*packet.Publish](sub)
			if got.Topic != "a/b" || got.QoS != qos || string(got.Payload) != string(p.Payload) {
				t.Fatalf("v%d: got %+v", v, got)
			}
			switch qos {
			case 1:
				sub.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: got.PacketID})
			case 2:
				sub.Send(&packet.Ack{Kind: packet.TypePubrec, PacketID: got.PacketID})
				if rel := testutil.Expect[*packet.Ack](sub); rel.Kind != packet.TypePubrel || rel.PacketID != got.PacketID {
					t.Fatalf("got %+v", rel)
				}
				sub.Send(&packet.Ack{Kind: packet.TypePubcomp, PacketID: got.PacketID})
			}
		}
		sub.Send(&packet.Disconnect{})
		sub.ExpectClosed()
	}
}
