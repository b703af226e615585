package broker_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

func TestAdminSessionsAndDisconnect(t *testing.T) {
	b := start(t, open())
	c, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "dev1", CleanStart: true, KeepAlive: 10,
		HasUsername: true, Username: "alice", Properties: expiryProps(60)})
	subscribe(t, c, 1, []packet.Subscription{{Filter: "b/#", QoS: 1}, {Filter: "a", QoS: 2, NoLocal: true}}, packet.Properties{}, 1, 2)
	connect(t, b, 4, "dev0")

	ss := b.Sessions()
	if len(ss) != 2 || ss[0].ClientID != "dev0" || ss[1].ClientID != "dev1" {
		t.Fatalf("sessions %+v", ss)
	}
	s := ss[1]
	if !s.Connected || s.Username != "alice" || !s.HasUsername || s.Version != 5 || s.Expiry != 60 ||
		s.KeepAlive.Seconds() != 15 || s.ConnectedAt.IsZero() || len(s.Subscriptions) != 2 ||
		s.Subscriptions[0].Filter != "a" || !s.Subscriptions[0].NoLocal || s.Subscriptions[1].QoS != 1 {
		t.Errorf("session %+v", s)
	}
	if !b.Disconnect("dev1") {
		t.Fatal("Disconnect reported no connection")
	}
	expectDisconnect(t, c, packet.AdministrativeAction)
	testutil.WaitFor(t, "the session offline", func() bool { s, ok := b.Session("dev1"); return ok && !s.Connected })
	if b.Disconnect("dev1") || b.Disconnect("nobody") {
		t.Error("Disconnect of an offline or unknown client reported true")
	}
}

func TestAdminPublishRetainedAndObserve(t *testing.T) {
	b := start(t, open())
	var mu sync.Mutex
	var seen, publishers []string
	remove := b.Observe(func(m *broker.Message) {
		mu.Lock()
		seen = append(seen, m.Topic+"="+string(m.Payload))
		publishers = append(publishers, m.Publisher)
		mu.Unlock()
	})
	sub := subscriber(t, b, 4, "s", "home/#", 1)
	ctx := context.Background()
	for _, m := range []*broker.Message{
		{Topic: "home/kitchen/temp", Payload: []byte("21"), QoS: 1, Retain: true},
		{Topic: "home/hall/temp", Payload: []byte("19"), Retain: true},
		{Topic: "home/x", Payload: []byte("live"), Publisher: "web:alice"},
	} {
		if err := b.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"home/kitchen/temp", "home/hall/temp", "home/x"} {
		ackAll(t, sub, testutilPublishTopic(t, sub, want))
	}
	for _, bad := range []string{"a/+", "$SYS/x", ""} {
		if err := b.Publish(ctx, &broker.Message{Topic: bad}); !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("Publish(%q) = %v", bad, err)
		}
	}
	var retained []string
	b.RetainedMessages("home/+/temp", func(m *broker.Message) bool { retained = append(retained, m.Topic); return true })
	if len(retained) != 2 {
		t.Errorf("retained %v", retained)
	}
	n, err := b.DeleteRetained(ctx, "home/#")
	if err != nil || n != 2 {
		t.Errorf("DeleteRetained = %d, %v", n, err)
	}
	if b.Stats().Retained != 0 {
		t.Errorf("retained left: %d", b.Stats().Retained)
	}
	remove()
	b.Publish(ctx, &broker.Message{Topic: "home/after"})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 || seen[0] != "home/kitchen/temp=21" || seen[2] != "home/x=live" {
		t.Errorf("observed %v", seen)
	} else if publishers[0] != "" || publishers[2] != "web:alice" {
		t.Errorf("observed publishers %q, want the one Publish was given", publishers)
	}
	for _, s := range seen {
		if s == "home/after=" {
			t.Error("observer called after removal")
		}
	}
	st := b.Stats()
	if st.ClientsConnected != 1 || st.Sessions != 1 || st.Subscriptions != 1 || st.PublishOut < 3 {
		t.Errorf("stats %+v", st)
	}
	if len(st.ListenerConnections) != 1 {
		t.Errorf("connections by listener %v, want one listener", st.ListenerConnections)
	}
	for name, n := range st.ListenerConnections {
		if n != 1 {
			t.Errorf("listener %s: %d connections, want 1", name, n)
		}
	}
}

func testutilPublishTopic(t *testing.T, c interface{ Next() packet.Packet }, topicName string) *packet.Publish {
	t.Helper()
	p, ok := c.Next().(*packet.Publish)
	if !ok || p.Topic != topicName {
		t.Fatalf("got %+v, want PUBLISH on %q", p, topicName)
	}
	return p
}

func TestDisconnectClients(t *testing.T) {
	b := start(t, open())
	var cs []*testutil.Client
	for i, u := range []string{"alice", "bob", "alice"} {
		c, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "c" + string(rune('0'+i)), CleanStart: true,
			HasUsername: true, Username: u})
		cs = append(cs, c)
	}
	anon := connect(t, b, 4, "anon")
	if n := b.DisconnectClients(func(c *broker.Client) bool { return c.HasUsername && c.Username == "alice" }); n != 2 {
		t.Fatalf("DisconnectClients kicked %d", n)
	}
	expectDisconnect(t, cs[0], packet.AdministrativeAction)
	expectDisconnect(t, cs[2], packet.AdministrativeAction)
	ping(t, cs[1])
	if n := b.DisconnectClients(func(c *broker.Client) bool { return !c.HasUsername }); n != 1 {
		t.Fatalf("DisconnectClients kicked %d anonymous clients", n)
	}
	anon.ExpectClosed()
	ping(t, cs[1])
}
