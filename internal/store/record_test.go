package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

func seedMessage() *broker.Message {
	p := &packet.Properties{}
	p.SetUint(packet.PropPayloadFormat, 1)
	p.SetString(packet.PropContentType, "text/plain")
	p.SetString(packet.PropResponseTopic, "r")
	p.CorrelationData = []byte{1, 2}
	p.Set(packet.PropCorrelationData)
	p.User = []packet.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}
	return &broker.Message{Topic: "a/b", Payload: []byte("hello"), QoS: 1, Retain: true, Properties: p,
		Expiry: time.Unix(10, 5), Received: time.Unix(-3, 0), Publisher: "pub"}
}

// FuzzDecode checks that decoding never panics, and that whatever decodes
// encodes again to a record that decodes to the same value.
func FuzzDecode(f *testing.F) {
	var e encoder
	m := seedMessage()
	ret, _ := e.appendMessage([]byte{recordV1}, m)
	sess, _ := e.appendSession(nil, &broker.StoredSession{ClientID: "c", Version: 5, Expiry: 9,
		OfflineSince: time.Unix(1, 1), Will: m, WillDelay: 3,
		Subscriptions: []broker.StoredSubscription{{Filter: "#", QoS: 2, NoLocal: true, RetainHandling: 2, ID: 7}}})
	del, _ := e.appendDelivery(nil, &broker.StoredDelivery{Seq: 1, Msg: m, QoS: 2, Retain: true,
		SubIDs: []uint32{1, 2}, Released: true, Group: "$share/g/#"})
	for _, seed := range [][]byte{ret, sess, del, {recordV1}, {}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e encoder
		if m, err := decodeRetained(b); err == nil {
			rec, err := e.appendMessage([]byte{recordV1}, m)
			if err != nil {
				t.Fatalf("retained decodes but does not encode: %v", err)
			}
			if m2, err := decodeRetained(rec); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("retained round trip: %+v, %+v, %v", m, m2, err)
			}
		}
		if s, err := decodeSession("c", b); err == nil {
			rec, err := e.appendSession(nil, s)
			if err != nil {
				t.Fatalf("session decodes but does not encode: %v", err)
			}
			if s2, err := decodeSession("c", rec); err != nil || !reflect.DeepEqual(s, s2) {
				t.Fatalf("session round trip: %+v, %+v, %v", s, s2, err)
			}
		}
		if d, err := decodeDelivery(1, b); err == nil {
			rec, err := e.appendDelivery(nil, d)
			if err != nil {
				t.Fatalf("delivery decodes but does not encode: %v", err)
			}
			if d2, err := decodeDelivery(1, rec); err != nil || !reflect.DeepEqual(d, d2) {
				t.Fatalf("delivery round trip: %+v, %+v, %v", d, d2, err)
			}
			if r, err := releasedRecord(b); err != nil {
				t.Fatalf("releasedRecord of a delivery: %v", err)
			} else if d3, err := decodeDelivery(1, r); err != nil || !d3.Released {
				t.Fatalf("released record: %+v, %v", d3, err)
			}
		}
	})
}

func TestRecordSizes(t *testing.T) {
	var e encoder
	d := &broker.StoredDelivery{Seq: 1, QoS: 1, Msg: &broker.Message{Topic: "sensors/room1/temperature",
		Payload: make([]byte, 150), QoS: 1, Publisher: "sensor-1", Received: time.Unix(1700000000, 1)}}
	rec, err := e.appendDelivery(nil, d)
	if err != nil {
		t.Fatal(err)
	}
	// format, flags, qos, group, subids; flags, qos, topic, publisher,
	// received (9 bytes), payload.
	if want := 3 + 1 + 1 + 2 + 1 + len(d.Msg.Topic) + 1 + len(d.Msg.Publisher) + 9 + 2 + 150; len(rec) != want {
		t.Errorf("delivery record of %d bytes, want %d", len(rec), want)
	}
}
