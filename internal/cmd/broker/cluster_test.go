package broker

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	mbroker "github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/packet"
)

// TestClusterFrame checks that a message survives the trip through a
// forwarding frame: topic, payload, QoS, retain, the forwarded properties,
// the expiry that is left, and the publisher, marked as from the node.
func TestClusterFrame(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	props := &packet.Properties{User: []packet.UserProperty{{Key: "a", Value: "b"}}}
	props.SetString(packet.PropContentType, "application/json")
	props.CorrelationData = []byte{1, 2}
	props.Set(packet.PropCorrelationData)
	m := &mbroker.Message{Topic: "x/y", Payload: []byte("hello"), QoS: 1, Retain: true, Properties: props,
		Expiry: now.Add(90 * time.Second), Publisher: "client-1"}
	f, ok := encodeFrame(m, now)
	if !ok {
		t.Fatal("encodeFrame failed")
	}
	later := now.Add(10 * time.Second)
	got, err := decodeFrame("n2", f, later)
	if err != nil {
		t.Fatal(err)
	}
	if got.Topic != "x/y" || string(got.Payload) != "hello" || got.QoS != 1 || !got.Retain ||
		got.Publisher != "\x00cluster\x00n2\x00client-1" || !got.Expiry.Equal(later.Add(90*time.Second)) || !got.Received.Equal(later) {
		t.Errorf("decoded %+v", got)
	}
	if p := got.Properties; p == nil || p.ContentType != "application/json" || !bytes.Equal(p.CorrelationData, []byte{1, 2}) ||
		!slices.Equal(p.User, props.User) || p.Has(packet.PropMessageExpiry) {
		t.Errorf("decoded properties %+v", got.Properties)
	}

	if _, ok := encodeFrame(&mbroker.Message{Topic: "t", Expiry: now.Add(-time.Second)}, now); ok {
		t.Error("an expired message was encoded")
	}
	for _, bad := range [][]byte{nil, {2}, {1, 5, 'a'}, append([]byte{1, 0}, 0x30, 0x05, 0, 9)} {
		if _, err := decodeFrame("n2", bad, now); err == nil {
			t.Errorf("decodeFrame(%x) succeeded", bad)
		}
	}
	if _, err := decodeFrame("n2", append([]byte{1, 0}, 0xc0, 0), now); err == nil || !strings.Contains(err.Error(), "not a PUBLISH") {
		t.Errorf("decodeFrame(PINGREQ) = %v", err)
	}
}

// TestRetainedProps checks that a retained message's properties survive
// the trip through the raft state, and that none stay none.
func TestRetainedProps(t *testing.T) {
	t.Parallel()
	props := &packet.Properties{User: []packet.UserProperty{{Key: "k", Value: "v"}}}
	props.SetString(packet.PropContentType, "text/plain")
	props.SetUint(packet.PropPayloadFormat, 1)
	got := decodeProps(encodeProps(props))
	if got == nil || got.ContentType != "text/plain" || got.PayloadFormat != 1 || !slices.Equal(got.User, props.User) {
		t.Errorf("decoded %+v", got)
	}
	if b := encodeProps(nil); b != nil {
		t.Errorf("encodeProps(nil) = %x", b)
	}
	if p := decodeProps(nil); p != nil {
		t.Errorf("decodeProps(nil) = %+v", p)
	}
	if p := decodeProps([]byte{0xc0, 0}); p != nil {
		t.Errorf("decodeProps(PINGREQ) = %+v", p)
	}
}

// TestAdmitSuperseded checks that a CONNECT whose claim another node's
// claim replaced before the leader's answer reached this node is refused:
// otherwise two nodes would keep a connection with the same client id.
func TestAdmitSuperseded(t *testing.T) {
	t.Parallel()
	srv := mbroker.New(mbroker.Config{})
	defer srv.Close()
	h := oneNodeHooks(t, func() *mbroker.Server { return srv })
	ctx := context.Background()
	first := &mbroker.Client{ID: "first"}
	if err := h.admit(ctx, first); err != nil { // waits for the leader
		t.Fatal(err)
	}
	h.mu.Lock()
	next := h.claims["first"].claim.Token + 1 // the token of this node's next claim
	h.mu.Unlock()

	// Another node's claim replaces the next claim before admit has it.
	h.onChange(cluster.Change{Kind: cluster.OwnerChanged, ClientID: "second", Owner: "other", Previous: "me", PreviousToken: next})
	if err := h.admit(ctx, &mbroker.Client{ID: "second"}); err == nil {
		t.Error("a superseded claim was admitted")
	}
	if err := h.admit(ctx, &mbroker.Client{ID: "third"}); err != nil {
		t.Errorf("the claim after it: %v", err)
	}
}

// oneNodeHooks returns cluster hooks on a one-node cluster of their own (h.node),
// for the broker srv returns; both end with the test.
func oneNodeHooks(t *testing.T, srv func() *mbroker.Server) *clusterHooks {
	t.Helper()
	h := newClusterHooks(func(s string) { t.Log(s) }, srv)
	t.Cleanup(h.close)
	n, err := cluster.Start(context.Background(), cluster.Config{Name: "t", NodeID: "me", Listen: "127.0.0.1:0",
		Gossip: "127.0.0.1:0", BootstrapExpect: 1, DataDir: t.TempDir(), OnChange: h.onChange})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	h.node = n
	return h
}
