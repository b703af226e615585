package broker

import (
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/packet"
)

// Fencing (docs/cluster.md, "Partitions"): a node out of contact with a
// majority for cluster.FenceLease closes the connections of the client
// identifiers it claimed and admits no client (admit) until it is back in
// contact, so that another node can take them over once their lease has
// surely run out (cluster.AwaitTakeover) without a client identifier
// being connected on two nodes at once.

// fenceCheck is how often fenceLoop checks the node's contact; a takeover
// on another node allows for it in cluster.TakeoverMargin.
const fenceCheck = 100 * time.Millisecond

// fenceCode is the reason code of the DISCONNECT a fenced node sends its
// MQTT 5 clients: 0x9C Use another server, "the Client should temporarily
// use another server" (a node on the majority side serves it); MQTT 3.1.1
// connections are closed.
const fenceCode = packet.UseAnotherServer

// fenceLoop follows the node's contact with a majority: when it is lost
// for the lease, every claimed connection is closed, and those admitted
// meanwhile at the next check.
func (h *clusterHooks) fenceLoop(srv *broker.Server) {
	defer h.loops.Done()
	t := time.NewTicker(fenceCheck)
	defer t.Stop()
	contact := false // the node was in contact once: log the changes
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		fenced := h.node.Fenced()
		h.mu.Lock()
		was := h.fenced
		h.fenced = fenced
		var ids []string
		if fenced {
			for id := range h.claims {
				ids = append(ids, id)
			}
		}
		h.mu.Unlock()
		switch {
		case fenced && !was && contact:
			h.log(fmt.Sprintf("Warning: cluster: no contact with a majority for %v: disconnecting %d clients and refusing new ones until it is back.",
				cluster.FenceLease, len(ids)))
		case !fenced && was:
			if contact {
				h.log("Warning: cluster: in contact with a majority again: admitting clients.")
			}
			contact = true
		}
		for _, id := range ids {
			h.fence(srv, id)
		}
	}
}

// fence closes the connection of client id, if it is attached: its claim
// stays (the cluster cannot agree on a release now), and the identifier's
// next claim replaces it.
func (h *clusterHooks) fence(srv *broker.Server, id string) {
	if !srv.DisconnectWith(id, fenceCode) {
		return // not attached yet (or gone): the next check
	}
	h.mu.Lock()
	delete(h.claims, id) // no release: it could not be agreed on
	h.mu.Unlock()
}
