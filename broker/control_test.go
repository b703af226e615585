package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/packet"
)

// TestControlEndpoints checks the $CONTROL mechanism over TCP: a request
// reaches its handler with the publishing client, the answer comes on
// TOPIC/response (with the request's Correlation Data), the request itself
// reaches no subscriber, a topic without a handler is answered "endpoint
// not available", and the Authorizer is asked first.
func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	cfg := open()
	cfg.Authorizers = []broker.Authorizer{rules(func(c *broker.Client, topic string, a broker.Access) bool {
		return !(c.ID == "mallory" && a == broker.Write)
	})}
	b := start(t, cfg)
	got := make(chan string, 4)
	err := b.Server.HandleControl("$CONTROL/test/v1", func(_ context.Context, c *broker.Client, req []byte) []byte {
		got <- c.ID + ":" + string(req)
		return []byte(`{"responses":[{"command":"` + string(req) + `"}]}`)
	})
	if err != nil {
		t.Fatal(err)
	}

	watch := subscriber(t, b, packet.Version5, "watch", "$CONTROL/#", 0)
	admin := connect(t, b, packet.Version5, "admin")

	req := &packet.Publish{Topic: "$CONTROL/test/v1", QoS: 1, PacketID: 7, Payload: []byte("listThings")}
	req.Properties.CorrelationData = []byte("c-1")
	req.Properties.Set(packet.PropCorrelationData)
	admin.Send(req)
	expectAck(t, admin, packet.TypePuback, 7)
	if s := <-got; s != "admin:listThings" {
		t.Fatalf("handler got %q", s)
	}
	p := expectPublish(t, watch, "$CONTROL/test/v1/response", `{"responses":[{"command":"listThings"}]}`)
	if string(p.Properties.CorrelationData) != "c-1" {
		t.Errorf("Correlation Data %q, want c-1", p.Properties.CorrelationData)
	}
	// The request was not routed: the next thing the watcher sees is the
	// answer to the next request.
	admin.Send(&packet.Publish{Topic: "$CONTROL/nobody/v1", Payload: []byte("{}")})
	expectPublish(t, watch, "$CONTROL/nobody/v1/response", `{"error": "endpoint not available"}`)

	// Refused by the Authorizer: no handler call, no answer.
	mallory := connect(t, b, packet.Version5, "mallory")
	mallory.Send(&packet.Publish{Topic: "$CONTROL/test/v1", QoS: 1, PacketID: 3, Payload: []byte("evil")})
	if a := expectAck(t, mallory, packet.TypePuback, 3); a.ReasonCode != packet.NotAuthorized {
		t.Errorf("refused request: PUBACK %v", a.ReasonCode)
	}
	watch.ExpectNothing(200 * time.Millisecond)
	select {
	case s := <-got:
		t.Errorf("handler called for a refused request: %q", s)
	default:
	}

	// A retained request is not kept.
	admin.Send(&packet.Publish{Topic: "$CONTROL/test/v1", Retain: true, Payload: []byte("again")})
	<-got
	expectPublish(t, watch, "$CONTROL/test/v1/response", `{"responses":[{"command":"again"}]}`)
	late := subscriber(t, b, packet.Version311, "late", "$CONTROL/#", 0)
	late.ExpectNothing(200 * time.Millisecond)
}

func TestHandleControlErrors(t *testing.T) {
	t.Parallel()
	srv := broker.New(open())
	h := func(context.Context, *broker.Client, []byte) []byte { return nil }
	for _, bad := range []string{"", "$CONTROL/", "$CONTROL", "control/x", "$CONTROL/+/v1", "$SYS/x"} {
		if err := srv.HandleControl(bad, h); !errors.Is(err, broker.ErrInvalidTopic) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := srv.HandleControl("$CONTROL/a/v1", h); err != nil {
		t.Fatal(err)
	}
	if err := srv.HandleControl("$CONTROL/a/v1", h); !errors.Is(err, broker.ErrControlTaken) {
		t.Errorf("second owner: %v", err)
	}
	srv.HandleControl("$CONTROL/b/v1", h)
	if got := strings.Join(srv.ControlEndpoints(), ","); got != "$CONTROL/a/v1,$CONTROL/b/v1" {
		t.Errorf("endpoints %s", got)
	}
	srv.HandleControl("$CONTROL/a/v1", nil)
	if err := srv.HandleControl("$CONTROL/a/v1", h); err != nil {
		t.Errorf("after removal: %v", err)
	}
}
