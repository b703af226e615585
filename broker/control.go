package broker

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/midge-mqtt/midge/packet"
)

// This file is the broker's control endpoints: Mosquitto's $CONTROL/<name>/v1
// topics, on which a component (dynamic security, the broker's own control
// API) takes requests. A PUBLISH to a control topic is authorized like any
// other (Write on its topic name) and then handed to the endpoint's handler
// instead of the subscribers: control requests are never delivered to
// anyone, whether or not a handler is registered (without one, the response
// is {"error":"endpoint not available"}). The handler's response is
// published by the broker on the same topic with "/response" appended, at
// QoS 0, not retained, to whoever subscribed to it (and may read it).

// ControlPrefix begins every control topic.
const ControlPrefix = "$CONTROL/"

// ControlHandler answers the requests published to a control endpoint.
type ControlHandler interface {
	// HandleControl handles one request: the payload a client c published
	// on topic. It returns the response payload, nil for none. It is
	// called from the publishing client's connection goroutine (one request
	// of a client at a time, in the order they were published); requests of
	// different clients may come concurrently. ctx ends when the connection
	// does.
	HandleControl(ctx context.Context, c *Client, topic string, payload []byte) []byte
}

// ControlFunc is a function used as a ControlHandler.
type ControlFunc func(ctx context.Context, c *Client, topic string, payload []byte) []byte

// HandleControl calls f.
func (f ControlFunc) HandleControl(ctx context.Context, c *Client, topic string, payload []byte) []byte {
	return f(ctx, c, topic, payload)
}

// controls is the registry of control endpoints.
type controls struct {
	mu       sync.RWMutex             // guards handlers
	handlers map[string]*controlEntry // by full topic: "$CONTROL/dynamic-security/v1"
}

// controlEntry is one registration (a pointer, so that remove can tell
// its own from a later one).
type controlEntry struct{ h ControlHandler }

// ErrControlTaken is returned by HandleControl for an endpoint that already
// has a handler.
var ErrControlTaken = errors.New("broker: control endpoint already registered")

// ControlTopic returns the topic of the control endpoint name:
// "$CONTROL/<name>/v1" for name "<name>/v1".
func ControlTopic(name string) string { return ControlPrefix + name }

// HandleControl registers h for the control endpoint name ("dynamic-security/v1"
// for $CONTROL/dynamic-security/v1). It returns a function that removes the
// registration. Registering a name twice is an error. It may be called
// before or while the server serves.
func (srv *Server) HandleControl(name string, h ControlHandler) (remove func(), err error) {
	t := ControlTopic(name)
	if name == "" || strings.HasSuffix(name, "/response") || !packet.ValidTopicName(t) {
		return nil, errors.New("broker: invalid control endpoint name " + name)
	}
	cs := &srv.controls
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.handlers[t]; ok {
		return nil, ErrControlTaken
	}
	if cs.handlers == nil {
		cs.handlers = make(map[string]*controlEntry)
	}
	e := &controlEntry{h}
	cs.handlers[t] = e
	return func() {
		cs.mu.Lock()
		if cs.handlers[t] == e {
			delete(cs.handlers, t)
		}
		cs.mu.Unlock()
	}, nil
}

// endpointMissing is the response to a request for an endpoint without a
// handler, as Mosquitto words it.
const endpointMissing = `{"error":"endpoint not available"}`

// isControlTopic reports whether name is a control topic, which is never
// routed to subscribers.
func isControlTopic(name string) bool { return strings.HasPrefix(name, ControlPrefix) }

// Control passes a request to the handler of a control topic as if client c
// had published it, without asking the authorization chain (the caller has
// decided that c may: the dashboard asks Security.Authorize first), and
// publishes the response as a PUBLISH would. It returns the response and
// whether a handler is registered for topic.
func (srv *Server) Control(ctx context.Context, c *Client, topic string, payload []byte) ([]byte, bool) {
	srv.controls.mu.RLock()
	e := srv.controls.handlers[topic]
	srv.controls.mu.RUnlock()
	if e == nil {
		srv.publish(&Message{Topic: topic + "/response", Payload: []byte(endpointMissing), Received: srv.now()}, nil)
		return nil, false
	}
	resp := e.h.HandleControl(ctx, c, topic, payload)
	if resp != nil {
		srv.publish(&Message{Topic: topic + "/response", Payload: resp, Received: srv.now()}, nil)
	}
	return resp, true
}

// DisconnectClients closes the connections of every connected client for
// which match returns true, as Disconnect does (MQTT 5: reason code 0x98),
// and returns how many there were. It is how a security component kicks the
// clients whose rights it changed (Mosquitto's
// mosquitto_kick_client_by_username). match must not call the Server.
func (srv *Server) DisconnectClients(match func(c *Client) bool) int {
	srv.mu.Lock()
	ss := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		ss = append(ss, s)
	}
	srv.mu.Unlock()
	n := 0
	for _, s := range ss {
		id := s.ident.Load()
		if id == nil || !match(&id.client) {
			continue
		}
		s.mu.Lock()
		c := s.conn
		s.mu.Unlock()
		if c != nil {
			c.kick("administrative action", packet.AdministrativeAction)
			n++
		}
	}
	return n
}
