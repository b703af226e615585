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

// hookLog records the calls of Config.Admit and Config.OnDisconnect.
type hookLog struct {
	mu       sync.Mutex // guards admitted, ended
	admitted map[string]*broker.Client
	ended    []string // "id" or "id taken over", in order
}

func (h *hookLog) admit(_ context.Context, c *broker.Client) error {
	if c.ID == "refused" {
		return errors.New("no majority")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.admitted[c.ID] = c
	return nil
}

func (h *hookLog) disconnected(c *broker.Client, takenOver bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.admitted[c.ID] != c && !takenOver {
		h.ended = append(h.ended, c.ID+" not the one admitted")
		return
	}
	s := c.ID
	if takenOver {
		s += " taken over"
	}
	h.ended = append(h.ended, s)
}

func (h *hookLog) endedList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ended...)
}

// TestAdmitHook checks Config.Admit and Config.OnDisconnect: a refusal is
// CONNACK 0x88 (MQTT 3.1.1: return code 3), an admitted connection's end
// is reported once with the Client Admit saw, and a takeover on this
// server says so.
func TestAdmitHook(t *testing.T) {
	h := &hookLog{admitted: make(map[string]*broker.Client)}
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true, Admit: h.admit, OnDisconnect: h.disconnected})

	for v, want := range map[byte]packet.ReasonCode{packet.Version5: packet.ServerUnavailable, packet.Version311: packet.ConnackV3ServerUnavailable} {
		c := testutil.Dial(t, b.Addr, v)
		if ack := c.Connect(&packet.Connect{ClientID: "refused", CleanStart: true}); ack.ReasonCode != want {
			t.Errorf("v%d: CONNACK %v, want %v", v, ack.ReasonCode, want)
		}
		c.ExpectClosed()
	}

	first, _ := testutil.Connect(t, b.Addr, packet.Version5, "c1")
	testutil.Connect(t, b.Addr, packet.Version5, "c1") // takes over
	first.ExpectClosed()
	testutil.WaitFor(t, "the takeover reported", func() bool { return len(h.endedList()) == 1 })
	last, _ := testutil.Connect(t, b.Addr, packet.Version5, "c2")
	last.Send(&packet.Disconnect{})
	testutil.WaitFor(t, "the disconnect reported", func() bool { return len(h.endedList()) == 2 })
	if got := h.endedList(); got[0] != "c1 taken over" || got[1] != "c2" {
		t.Errorf("OnDisconnect calls %q, want [c1 taken over, c2]", got)
	}
}

// TestDisconnectWith checks that DisconnectWith tells an MQTT 5 client its
// reason code.
func TestDisconnectWith(t *testing.T) {
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	c, _ := testutil.Connect(t, b.Addr, packet.Version5, "c")
	if !b.DisconnectWith("c", packet.SessionTakenOver) {
		t.Fatal("DisconnectWith reports the client not connected")
	}
	got := c.ExpectClosed()
	if len(got) != 1 {
		t.Fatalf("got %d packets, want a DISCONNECT", len(got))
	}
	if d, ok := got[0].(*packet.Disconnect); !ok || d.ReasonCode != packet.SessionTakenOver {
		t.Errorf("got %+v, want DISCONNECT 0x8E", got[0])
	}
	if b.DisconnectWith("nobody", packet.SessionTakenOver) {
		t.Error("DisconnectWith of a client never connected reports true")
	}
}

// TestRouteAndSetRetained checks that Route delivers a retained message
// without storing it, and SetRetained stores one without delivering it.
func TestRouteAndSetRetained(t *testing.T) {
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	sub, _ := testutil.Connect(t, b.Addr, packet.Version5, "sub")
	sub.Send(&packet.Subscribe{PacketID: 1, Subscriptions: []packet.Subscription{{Filter: "t/#", RetainAsPublished: true}}})
	testutil.Expect[*packet.Suback](sub)
	ctx := context.Background()

	if err := b.SetRetained(&broker.Message{Topic: "t/set", Payload: []byte("stored")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Route(ctx, &broker.Message{Topic: "t/routed", Payload: []byte("live"), Retain: true}); err != nil {
		t.Fatal(err)
	}
	// The routed one is the first delivery: the stored one was not routed.
	if p := testutil.Expect[*packet.Publish](sub); p.Topic != "t/routed" || !p.Retain {
		t.Fatalf("got %q retain %v, want t/routed with the retain flag (Retain As Published)", p.Topic, p.Retain)
	}
	var topics []string
	b.RetainedMessages("#", func(m *broker.Message) bool { topics = append(topics, m.Topic); return true })
	if len(topics) != 1 || topics[0] != "t/set" {
		t.Errorf("retained topics %q, want [t/set]", topics)
	}

	// An empty payload deletes; a bad topic is refused.
	if err := b.SetRetained(&broker.Message{Topic: "t/set"}); err != nil {
		t.Fatal(err)
	}
	b.RetainedMessages("#", func(m *broker.Message) bool { t.Errorf("%q still retained", m.Topic); return true })
	if err := b.SetRetained(&broker.Message{Topic: "t/+"}); !errors.Is(err, broker.ErrInvalidTopic) {
		t.Errorf("SetRetained(t/+) = %v, want ErrInvalidTopic", err)
	}
}
