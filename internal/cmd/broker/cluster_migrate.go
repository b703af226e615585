package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
)

// Session migration (docs/cluster.md, "Sessions across nodes"): the claim
// of a client identifier stays with the node that holds its persistent
// session while the client is away (keepsSession), so the next CONNECT on
// any node learns where the session is (cluster.Claim.Previous). Once the
// takeover is safe (cluster.AwaitTakeover), admit fetches the session from
// that node (broker.Server.ExportSession there), imports it here
// (ImportSession, committed to the store when there is one) and confirms,
// and only then does the other node drop its stored copy (DropExported).
// attach then resumes the session: session present 1. If the other node
// cannot be reached, the client is admitted without it.

// migrateTimeout bounds the fetch of a session from the node that held it.
const migrateTimeout = 10 * time.Second

// migrateIn moves the session of client id here from the node that owned
// the identifier before claim cl, if it is another node and holds one. It
// logs what fails: the client is then admitted without the session.
func (h *clusterHooks) migrateIn(ctx context.Context, id string, cl cluster.Claim) {
	if cl.Previous == "" || cl.Previous == h.node.ID() {
		return
	}
	srv := h.srv()
	if srv == nil {
		return
	}
	// Not the connection's context: once the other node has exported the
	// session, the import must not stop because the client went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), migrateTimeout)
	defer cancel()
	b, err := h.node.FetchSession(ctx, cl.Previous, id)
	if errors.Is(err, cluster.ErrNoSession) {
		return
	}
	if err != nil {
		h.log(fmt.Sprintf("Warning: cluster: the session of %s stays on node %s (unreachable: %v); the client starts without it.", id, cl.Previous, err))
		return
	}
	exp, err := decodeSession(b)
	if err == nil && exp.Session.ClientID != id {
		err = fmt.Errorf("node %s sent the session of %q", cl.Previous, exp.Session.ClientID)
	}
	if err == nil {
		err = srv.ImportSession(ctx, exp)
	}
	if err != nil {
		// The other node keeps its stored copy (it comes back there at its
		// next restart): nothing is lost, the client starts afresh here.
		h.log(fmt.Sprintf("Warning: cluster: cannot import the session of %s from node %s: %v", id, cl.Previous, err))
		return
	}
	if err := h.node.ConfirmSession(ctx, cl.Previous, id); err != nil {
		h.log(fmt.Sprintf("Warning: cluster: node %s keeps a stored copy of the moved session of %s: %v", cl.Previous, id, err))
	}
}

// keepsSession reports whether the server holds an offline session of id,
// whose claim stays with this node when the connection ends.
func (h *clusterHooks) keepsSession(id string) bool {
	srv := h.srv()
	if srv == nil {
		return false
	}
	si, ok := srv.Session(id)
	return ok && !si.Connected
}

// sessionMover serves the other nodes' session requests
// (cluster.SessionMover) from the running server.
type sessionMover struct{ h *clusterHooks }

// ExportSession takes the session of clientID off the server, encoded.
func (m sessionMover) ExportSession(ctx context.Context, clientID string) ([]byte, error) {
	srv := m.h.srv()
	if srv == nil {
		return nil, errors.New("broker not running")
	}
	m.h.mu.Lock()
	delete(m.h.claims, clientID) // the other node's claim replaced it
	m.h.mu.Unlock()
	exp, err := srv.ExportSession(ctx, clientID)
	if errors.Is(err, broker.ErrNoSession) {
		return nil, cluster.ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	return encodeSession(exp)
}

// DropExported forgets the server's stored copy of a moved session.
func (m sessionMover) DropExported(ctx context.Context, clientID string) error {
	srv := m.h.srv()
	if srv == nil {
		return errors.New("broker not running")
	}
	return srv.DropExported(ctx, clientID)
}

// wireSession is a broker.SessionExport as nodes exchange it, in JSON.
type wireSession struct {
	Session    broker.StoredSession `json:"session"` // without its will
	Deliveries []wireDelivery       `json:"deliveries"`
	Inbound    []uint16             `json:"inbound,omitempty"`
}

// wireDelivery is a broker.StoredDelivery with its message.
type wireDelivery struct {
	Seq       uint64    `json:"seq"`
	QoS       byte      `json:"qos"`
	Retain    bool      `json:"retain,omitempty"`
	SubIDs    []uint32  `json:"sub_ids,omitempty"`
	Released  bool      `json:"released,omitempty"`
	Group     string    `json:"group,omitempty"`
	Topic     string    `json:"topic"`
	Payload   []byte    `json:"payload"`
	MsgQoS    byte      `json:"msg_qos"`
	MsgRetain bool      `json:"msg_retain,omitempty"`
	Props     []byte    `json:"props,omitempty"` // as encodeProps encodes them
	Expiry    time.Time `json:"expiry"`
	Publisher string    `json:"publisher,omitempty"`
	Received  time.Time `json:"received"`
}

// encodeSession encodes exp for another node.
func encodeSession(exp *broker.SessionExport) ([]byte, error) {
	w := wireSession{Session: exp.Session, Inbound: exp.Inbound}
	w.Session.Will, w.Session.WillDelay = nil, 0
	for _, d := range exp.Deliveries {
		m := d.Msg
		w.Deliveries = append(w.Deliveries, wireDelivery{Seq: d.Seq, QoS: d.QoS, Retain: d.Retain, SubIDs: d.SubIDs,
			Released: d.Released, Group: d.Group, Topic: m.Topic, Payload: m.Payload, MsgQoS: m.QoS, MsgRetain: m.Retain,
			Props: encodeProps(m.Properties), Expiry: m.Expiry, Publisher: m.Publisher, Received: m.Received})
	}
	return json.Marshal(&w)
}

// decodeSession decodes what encodeSession encoded.
func decodeSession(b []byte) (*broker.SessionExport, error) {
	var w wireSession
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decoding a session: %w", err)
	}
	exp := &broker.SessionExport{Session: w.Session, Inbound: w.Inbound}
	exp.Session.Will = nil
	for _, d := range w.Deliveries {
		m := &broker.Message{Topic: d.Topic, Payload: d.Payload, QoS: d.MsgQoS, Retain: d.MsgRetain,
			Properties: decodeProps(d.Props), Expiry: d.Expiry, Publisher: d.Publisher, Received: d.Received}
		exp.Deliveries = append(exp.Deliveries, &broker.StoredDelivery{Seq: d.Seq, Msg: m, QoS: d.QoS, Retain: d.Retain,
			SubIDs: d.SubIDs, Released: d.Released, Group: d.Group})
	}
	return exp, nil
}
