package broker

import (
	"context"
	"errors"
	"slices"

	"github.com/midge-mqtt/midge/internal/topic"
	"github.com/midge-mqtt/midge/packet"
)

// Control endpoints are Mosquitto's request/response topics under
// $CONTROL/ (the dynamic-security plugin's $CONTROL/dynamic-security/v1,
// 2.1's $CONTROL/broker/v1): a client publishes a request to the topic and
// the owner of the endpoint answers on the topic with "/response" appended.
//
// A PUBLISH to a topic under $CONTROL/ is checked against the Authorizer
// for Write like any other and, if allowed, handed to the endpoint's
// handler and never routed to subscribers (nor retained). A topic that has
// no handler is answered with Mosquitto's {"error": "endpoint not
// available"}. Handlers run on the publishing connection's reader
// goroutine, one request at a time per connection, so a client's requests
// are answered in order; a slow handler delays only that client.

// ControlHandler answers a request published on a control endpoint by
// client. It returns the payload to publish on the endpoint's response
// topic, or nil to publish nothing. It must not keep request after it
// returns.
type ControlHandler func(ctx context.Context, client *Client, request []byte) (response []byte)

// ErrControlTaken is HandleControl's error for a topic that already has a
// handler: each endpoint has one owner, as in Mosquitto 2.1.
var ErrControlTaken = errors.New("broker: control endpoint already registered")

// endpointNotAvailable is Mosquitto's answer on a topic without a handler.
var endpointNotAvailable = []byte(`{"error": "endpoint not available"}`)

// HandleControl makes h answer the requests published on topic, which must
// be a topic name under $CONTROL/ ("$CONTROL/broker/v1"). A nil h removes
// the endpoint. It may be called at any time, also while serving, and is
// safe for concurrent use.
func (srv *Server) HandleControl(topic string, h ControlHandler) error {
	if !isControlTopic(topic) || len(topic) == len(controlPrefix) || !packet.ValidTopicName(topic) {
		return ErrInvalidTopic
	}
	if h == nil {
		srv.control.Delete(topic)
		return nil
	}
	if !srv.control.Add(topic, h) {
		return ErrControlTaken
	}
	return nil
}

// ControlEndpoints returns the topics that have a handler, sorted.
func (srv *Server) ControlEndpoints() []string { return srv.control.Keys() }

// controlPrefix starts every control topic.
const controlPrefix = topic.ControlPrefix

// isControlTopic reports whether name is under $CONTROL/.
func isControlTopic(name string) bool { return topic.IsControl(name) }

// serveControl answers a request the client of c published on name (the
// Authorizer has allowed it): the handler's response, or Mosquitto's
// "endpoint not available", goes to name+"/response" at QoS 0, not
// retained, with the request's MQTT 5 Correlation Data.
func (srv *Server) serveControl(ctx context.Context, c *conn, name string, p *packet.Publish) {
	resp := endpointNotAvailable
	if h, _ := srv.control.Get(name); h != nil {
		client := *c.client
		resp = h(ctx, &client, p.Payload)
	}
	if resp == nil {
		return
	}
	m := &Message{Topic: name + "/response", Payload: resp, Received: srv.now()}
	if p.Properties.Has(packet.PropCorrelationData) {
		m.Properties = &packet.Properties{CorrelationData: slices.Clone(p.Properties.CorrelationData)}
		m.Properties.Set(packet.PropCorrelationData)
	}
	srv.publish(m, nil)
}
