package broker

import (
	"reflect"
	"testing"
	"time"

	mbroker "github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// A session crosses the wire between nodes unchanged: the record, every
// delivery's QoS 2 state and sequence number, and its message with MQTT 5
// properties; the will stays behind.
func TestSessionWireRoundTrip(t *testing.T) {
	props := &packet.Properties{}
	props.SetString(packet.PropContentType, "text/plain")
	props.User = []packet.UserProperty{{Key: "k", Value: "v"}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	m := &mbroker.Message{Topic: "a/b", Payload: []byte{0, 1, 2}, QoS: 2, Retain: true, Properties: props,
		Expiry: at.Add(time.Hour), Publisher: "pub", Received: at}
	exp := &mbroker.SessionExport{
		Session: mbroker.StoredSession{ClientID: "x", Version: 5, Username: "u", HasUsername: true, Listener: "l",
			Expiry: 300, OfflineSince: at, Will: &mbroker.Message{Topic: "will"}, WillDelay: 5,
			Subscriptions: []mbroker.StoredSubscription{{Filter: "a/#", QoS: 2, NoLocal: true, RetainHandling: 1, ID: 7}},
			SentUpTo:      3, NextSeq: 9, Queued: 2},
		Deliveries: []*mbroker.StoredDelivery{
			{Seq: 1, Msg: m, QoS: 2, Released: true, SubIDs: []uint32{7}},
			{Seq: 8, Msg: m, QoS: 1, Retain: true, Group: "$share/g/a/#"},
		},
		Inbound: []uint16{4, 5},
	}
	b, err := encodeSession(exp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSession(b)
	if err != nil {
		t.Fatal(err)
	}
	want := *exp
	want.Session.Will, want.Session.WillDelay = nil, 0
	if !reflect.DeepEqual(got.Session, want.Session) || !reflect.DeepEqual(got.Inbound, want.Inbound) {
		t.Errorf("session: got %+v %v, want %+v %v", got.Session, got.Inbound, want.Session, want.Inbound)
	}
	if len(got.Deliveries) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(got.Deliveries))
	}
	for i, d := range got.Deliveries {
		w := exp.Deliveries[i]
		gm := d.Msg
		if d.Seq != w.Seq || d.QoS != w.QoS || d.Retain != w.Retain || d.Released != w.Released || d.Group != w.Group ||
			!reflect.DeepEqual(d.SubIDs, w.SubIDs) {
			t.Errorf("delivery %d: got %+v, want %+v", i, d, w)
		}
		if gm.Topic != m.Topic || string(gm.Payload) != string(m.Payload) || gm.QoS != m.QoS || gm.Retain != m.Retain ||
			!gm.Expiry.Equal(m.Expiry) || gm.Publisher != m.Publisher || !gm.Received.Equal(m.Received) ||
			gm.Properties == nil || gm.Properties.ContentType != "text/plain" || !reflect.DeepEqual(gm.Properties.User, props.User) {
			t.Errorf("message %d: got %+v (%+v), want %+v", i, gm, gm.Properties, m)
		}
	}
	if _, err := decodeSession([]byte("{")); err == nil {
		t.Error("a truncated session decoded")
	}
}
