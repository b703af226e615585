package store

import (
	"encoding/binary"
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

// appendDeliveryV1 appends d encoded as a delivery record of store format
// 1, which held its message; only tests write them now.
func appendDeliveryV1(b []byte, d *broker.StoredDelivery) ([]byte, error) {
	b = append(b, recordV1, deliveryFlags(d), d.QoS)
	b = appendString(b, d.Group)
	b = binary.AppendUvarint(b, uint64(len(d.SubIDs)))
	for _, id := range d.SubIDs {
		b = binary.AppendUvarint(b, uint64(id))
	}
	var e encoder
	return e.appendMessage(b, d.Msg)
}

// FuzzDecode checks that decoding never panics, and that whatever decodes
// encodes again to a record that decodes to the same value: retained and
// stored messages, sessions, deliveries (of both store formats) and
// reference counts.
func FuzzDecode(f *testing.F) {
	var e encoder
	m := seedMessage()
	ret, _ := e.appendMessage([]byte{recordV1}, m)
	sess, _ := e.appendSession(nil, &broker.StoredSession{ClientID: "c", Version: 5, Expiry: 9,
		OfflineSince: time.Unix(1, 1), Will: m, WillDelay: 3,
		Subscriptions: []broker.StoredSubscription{{Filter: "#", QoS: 2, NoLocal: true, RetainHandling: 2, ID: 7}}})
	sd := &broker.StoredDelivery{Seq: 1, ID: 1 << 40, Msg: m, QoS: 2, Retain: true,
		SubIDs: []uint32{1, 2}, Released: true, Group: "$share/g/#"}
	del := appendDelivery(nil, sd)
	delV1, _ := appendDeliveryV1(nil, sd)
	for _, seed := range [][]byte{ret, sess, del, delV1, appendRefs(nil, 1), appendRefs(nil, 1<<63),
		{recordV1}, {recordV2}, {recordV2, 0, 1, 1, 0, 0}, {}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e encoder
		if m, err := decodeMessage(b); err == nil {
			rec, err := e.appendMessage([]byte{recordV1}, m)
			if err != nil {
				t.Fatalf("message decodes but does not encode: %v", err)
			}
			if m2, err := decodeMessage(rec); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("message round trip: %+v, %+v, %v", m, m2, err)
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
			if d.ID == 0 || d.Msg != nil {
				t.Fatalf("delivery decodes with ID %d, Msg %v", d.ID, d.Msg)
			}
			rec := appendDelivery(nil, d)
			if d2, err := decodeDelivery(1, rec); err != nil || !reflect.DeepEqual(d, d2) {
				t.Fatalf("delivery round trip: %+v, %+v, %v", d, d2, err)
			}
			if id, err := deliveryMessageID(b); err != nil || id != d.ID {
				t.Fatalf("deliveryMessageID: %d, %v; want %d", id, err, d.ID)
			}
			if r, err := releasedRecord(b); err != nil {
				t.Fatalf("releasedRecord of a delivery: %v", err)
			} else if d3, err := decodeDelivery(1, r); err != nil || !d3.Released || d3.ID != d.ID {
				t.Fatalf("released record: %+v, %v", d3, err)
			}
		} else if r, err := releasedRecord(b); err == nil {
			// ReleaseDelivery changes a record it cannot decode only in its
			// flags byte; such a record stays one that does not decode.
			if _, err := decodeDelivery(1, r); err == nil && b[1]&^delReleased == b[1] {
				t.Fatalf("releasedRecord made a bad record good: % x", b)
			}
		}
		if d, err := decodeDeliveryV1(1, b); err == nil {
			if d.ID != 0 || d.Msg == nil {
				t.Fatalf("format 1 delivery decodes with ID %d, Msg %v", d.ID, d.Msg)
			}
			rec, err := appendDeliveryV1(nil, d)
			if err != nil {
				t.Fatalf("format 1 delivery decodes but does not encode: %v", err)
			}
			if d2, err := decodeDeliveryV1(1, rec); err != nil || !reflect.DeepEqual(d, d2) {
				t.Fatalf("format 1 delivery round trip: %+v, %+v, %v", d, d2, err)
			}
		}
		if n, err := decodeRefs(b); err == nil {
			if n2, err := decodeRefs(appendRefs(nil, n)); err != nil || n2 != n {
				t.Fatalf("reference count round trip: %d, %d, %v", n, n2, err)
			}
		}
	})
}

func TestRecordSizes(t *testing.T) {
	var e encoder
	m := &broker.Message{Topic: "sensors/room1/temperature",
		Payload: make([]byte, 150), QoS: 1, Publisher: "sensor-1", Received: time.Unix(1700000000, 1)}
	d := &broker.StoredDelivery{Seq: 1, ID: 300, QoS: 1, Msg: m}
	// format, flags, qos, message id (2 bytes), group, subids: no message.
	if rec, want := appendDelivery(nil, d), 3+2+1+1; len(rec) != want {
		t.Errorf("delivery record of %d bytes, want %d", len(rec), want)
	}
	rec, err := e.appendMessage([]byte{recordV1}, m)
	if err != nil {
		t.Fatal(err)
	}
	// format; flags, qos, topic, publisher, received (9 bytes), payload.
	if want := 1 + 1 + 1 + 1 + len(m.Topic) + 1 + len(m.Publisher) + 9 + 2 + 150; len(rec) != want {
		t.Errorf("stored message record of %d bytes, want %d", len(rec), want)
	}
}
