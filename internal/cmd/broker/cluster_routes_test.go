package broker

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
)

// TestSelectionFrame checks the selection ahead of a forwarded message's
// frame: it decodes as encoded, a frame without one goes to the
// subscriptions that are not shared, and a damaged one is refused.
func TestSelectionFrame(t *testing.T) {
	m := &broker.Message{Topic: "t/1", Payload: []byte("p"), QoS: 1, Publisher: "c"}
	f, ok := encodeFrame(m, time.Now())
	if !ok {
		t.Fatal("encodeFrame failed")
	}
	for _, tg := range []cluster.Target{
		{Node: "n", Plain: true},
		{Node: "n", Groups: []string{"$share/g/t/#", "$share/h/t/+"}},
		{Node: "n", Plain: true, Groups: []string{"$share/g/t/#"}},
	} {
		sel, rest, err := decodeSelection(selectFrame(tg, f))
		if err != nil || sel.Plain != tg.Plain || !slices.Equal(sel.Groups, tg.Groups) || !bytes.Equal(rest, f) {
			t.Errorf("%+v: decoded %+v, frame equal %v, %v", tg, sel, bytes.Equal(rest, f), err)
		}
		if got, err := decodeFrame("n", rest, time.Now()); err != nil || got.Topic != "t/1" || string(got.Payload) != "p" {
			t.Errorf("%+v: the message decodes as %+v, %v", tg, got, err)
		}
	}
	if sel, rest, err := decodeSelection(f); err != nil || !sel.Plain || len(sel.Groups) != 0 || !bytes.Equal(rest, f) {
		t.Errorf("a frame without a selection: %+v, %v", sel, err)
	}
	full := selectFrame(cluster.Target{Groups: []string{"$share/g/t/#"}}, f)
	for _, bad := range [][]byte{{frameSelected}, {frameSelected, 0, 5, 1}, full[:6]} {
		if _, _, err := decodeSelection(bad); err == nil {
			t.Errorf("damaged selection % x accepted", bad)
		}
	}
}

// TestMessageKey checks that the key of a message is the same for the
// same message and differs between messages.
func TestMessageKey(t *testing.T) {
	now := time.Now()
	a := &broker.Message{Topic: "t", Publisher: "c", Received: now}
	b := &broker.Message{Topic: "t", Publisher: "c", Received: now.Add(time.Nanosecond)}
	c := &broker.Message{Topic: "ct", Publisher: "", Received: now}
	if messageKey(a) != messageKey(&broker.Message{Topic: "t", Publisher: "c", Received: now}) {
		t.Error("the same message has two keys")
	}
	if messageKey(a) == messageKey(b) || messageKey(a) == messageKey(c) {
		t.Error("two messages share a key")
	}
}
