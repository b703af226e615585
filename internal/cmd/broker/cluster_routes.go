package broker

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
)

// Routes: the broker tells its node the filters its sessions hold
// (Config.OnRoute → Node.SetRoute), and a message goes only to the nodes
// with a matching route (Node.Targets), with the shared groups each was
// picked for; the publishing node delivers to its own members of a group
// only when it picked itself (Config.SharedChoice → Node.SharedHere). A
// frame says what the receiving node delivers the message to
// (Server.RouteSelected).

// frameSelected is the first byte of a frame that names what the message
// goes to on the receiving node: a flags byte (bit 0: the subscriptions
// that are not shared), the number of shared groups (uvarint), each
// group's filter (uvarint length and bytes), then the message's frame
// (frameVersion).
const frameSelected = 2

// messageKey identifies m for the choice of the node that delivers it to a
// shared group: the observer and SharedChoice see the same message, so
// they choose the same node, and messages spread over the nodes.
func messageKey(m *broker.Message) uint64 {
	// FNV-1a, inline: no allocation on the publish path.
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	t := uint64(m.Received.UnixNano())
	for range 8 {
		h = (h ^ t&0xff) * prime
		t >>= 8
	}
	for i := 0; i < len(m.Publisher); i++ {
		h = (h ^ uint64(m.Publisher[i])) * prime
	}
	h *= prime // a separator: ("ab", "c") is not ("a", "bc")
	for i := 0; i < len(m.Topic); i++ {
		h = (h ^ uint64(m.Topic[i])) * prime
	}
	return h
}

// setRouteHooks has the server report its routes to the node and ask it
// which shared groups it delivers to.
func (cr *clusterRun) setRouteHooks(cfg *broker.Config) {
	n := cr.node
	cfg.OnRoute = n.SetRoute
	cfg.SharedChoice = func(m *broker.Message, group string) bool {
		if m.Topic[0] == '$' {
			return true // not forwarded: delivered here
		}
		return n.SharedHere(group, messageKey(m))
	}
}

// forward sends m to the nodes with a matching route, each frame naming
// what the message goes to there.
func (cr *clusterRun) forward(m *broker.Message) {
	targets := cr.node.Targets(m.Topic, messageKey(m))
	if len(targets) == 0 {
		return
	}
	f, ok := encodeFrame(m, time.Now())
	if !ok {
		return
	}
	if m.QoS > 0 {
		// Acknowledged, and the publisher's PUBACK/PUBREC waits for it
		// (cluster_replicate.go).
		cr.repl.forward(cr.node, m, targets, f)
		return
	}
	for _, t := range targets {
		cr.node.Send(t.Node, selectFrame(t, f))
	}
}

// selectFrame returns frame f with t's selection ahead of it.
func selectFrame(t cluster.Target, f []byte) []byte {
	size := 2 + binary.MaxVarintLen64 + len(f)
	for _, g := range t.Groups {
		size += binary.MaxVarintLen64 + len(g)
	}
	b := make([]byte, 0, size)
	flags := byte(0)
	if t.Plain {
		flags = 1
	}
	b = append(b, frameSelected, flags)
	b = binary.AppendUvarint(b, uint64(len(t.Groups)))
	for _, g := range t.Groups {
		b = binary.AppendUvarint(b, uint64(len(g)))
		b = append(b, g...)
	}
	return append(b, f...)
}

// decodeSelection splits a frame into the selection and the message's
// frame. A frame without a selection (frameVersion) goes to the
// subscriptions that are not shared.
func decodeSelection(f []byte) (broker.Selection, []byte, error) {
	if len(f) == 0 || f[0] != frameSelected {
		return broker.Selection{Plain: true}, f, nil
	}
	if len(f) < 3 {
		return broker.Selection{}, nil, errors.New("short selection")
	}
	sel := broker.Selection{Plain: f[1]&1 != 0}
	k, w := binary.Uvarint(f[2:])
	if w <= 0 || k > uint64(len(f)) {
		return broker.Selection{}, nil, errors.New("bad group count")
	}
	f = f[2+w:]
	for range k {
		l, w := binary.Uvarint(f)
		if w <= 0 || l > uint64(len(f)-w) {
			return broker.Selection{}, nil, errors.New("bad group")
		}
		sel.Groups = append(sel.Groups, string(f[w:w+int(l)]))
		f = f[w+int(l):]
	}
	return sel, f, nil
}
