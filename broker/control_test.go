package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// A request to a control endpoint reaches its handler once, never a
// subscriber; the response goes to .../response; an unauthorized request is
// refused before the handler sees it.
func TestControlEndpoint(t *testing.T) {
	cfg := open()
	cfg.Authorizers = []broker.Authorizer{rules(func(c *broker.Client, topic string, a broker.Access) bool {
		return c.ID != "nobody" || !strings.HasPrefix(topic, "$CONTROL/")
	})}
	b := start(t, cfg)
	calls := make(chan string, 10)
	remove, err := b.HandleControl("echo/v1", broker.ControlFunc(func(_ context.Context, c *broker.Client, topic string, payload []byte) []byte {
		calls <- c.ID + " " + topic + " " + string(payload)
		return append([]byte("re:"), payload...)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.HandleControl("echo/v1", broker.ControlFunc(nil)); !errors.Is(err, broker.ErrControlTaken) {
		t.Errorf("second registration: %v", err)
	}
	if _, err := b.HandleControl("bad/+", broker.ControlFunc(nil)); err == nil {
		t.Error("a wildcard endpoint name was accepted")
	}

	sub := connect(t, b, 5, "sub")
	subscribe(t, sub, 1, []packet.Subscription{{Filter: "$CONTROL/#"}}, packet.Properties{}, 0)
	admin := connect(t, b, 5, "admin")
	for qos := byte(0); qos <= 2; qos++ {
		if rc := pub(t, admin, 7, "$CONTROL/echo/v1", "hi", qos, false); rc != packet.Success {
			t.Fatalf("QoS %d request: reason code %v", qos, rc)
		}
		select {
		case got := <-calls:
			if got != "admin $CONTROL/echo/v1 hi" {
				t.Errorf("handler got %q", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the handler was not called")
		}
		// The subscriber sees the response, never the request.
		expectPublish(t, sub, "$CONTROL/echo/v1/response", "re:hi")
	}
	// Without a handler: acknowledged, delivered to nobody, answered.
	if rc := pub(t, admin, 8, "$CONTROL/other/v1", "x", 1, false); rc != packet.Success {
		t.Errorf("request to an endpoint without handler: %v", rc)
	}
	expectPublish(t, sub, "$CONTROL/other/v1/response", `{"error":"endpoint not available"}`)
	nobody := connect(t, b, 5, "nobody")
	if rc := pub(t, nobody, 9, "$CONTROL/echo/v1", "x", 1, false); rc != packet.NotAuthorized {
		t.Errorf("unauthorized request: %v", rc)
	}
	remove()
	if rc := pub(t, admin, 10, "$CONTROL/echo/v1", "x", 1, false); rc != packet.Success {
		t.Errorf("request after removal: %v", rc)
	}
	expectPublish(t, sub, "$CONTROL/echo/v1/response", `{"error":"endpoint not available"}`)
	sub.ExpectNothing(100 * time.Millisecond)
	if len(calls) != 0 {
		t.Errorf("handler called for %q", <-calls)
	}
}

func TestDisconnectClients(t *testing.T) {
	b := start(t, open())
	var cs []*testutil.Client
	for i, u := range []string{"alice", "bob", "alice"} {
		c, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "c" + string(rune('0'+i)), CleanStart: true,
			HasUsername: true, Username: u})
		cs = append(cs, c)
	}
	if n := b.DisconnectClients(func(c *broker.Client) bool { return c.Username == "alice" }); n != 2 {
		t.Fatalf("DisconnectClients kicked %d", n)
	}
	expectDisconnect(t, cs[0], packet.AdministrativeAction)
	expectDisconnect(t, cs[2], packet.AdministrativeAction)
	ping(t, cs[1])
}
