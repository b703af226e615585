package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Session migration: a node that takes a client identifier over from
// another node (Claim.Previous) fetches the client's session from it over
// the cluster port, then confirms once it has committed it, and the other
// node drops its copy. The session's encoding is the user's (the broker's):
// the cluster carries it as bytes. The calls are the node API's, mutually
// authenticated with the cluster's TLS when it has one.

// SessionMover is the user's side of session migration, set with
// HandleSessions.
type SessionMover interface {
	// ExportSession takes the session of clientID off this node and
	// returns it encoded; ErrNoSession when there is none to move.
	ExportSession(ctx context.Context, clientID string) ([]byte, error)
	// DropExported forgets the copy of a session exported before, once
	// the node that took it has committed it.
	DropExported(ctx context.Context, clientID string) error
}

// ErrNoSession is a SessionMover's (and FetchSession's) answer when the
// node holds no session of the client identifier to move.
var ErrNoSession = errors.New("cluster: no session to move")

// maxSessionSize bounds an exported session: its queued messages.
const maxSessionSize = 256 << 20

// HandleSessions makes m serve the session requests of the other nodes;
// until it is called, they are answered 503.
func (n *Node) HandleSessions(m SessionMover) { n.sessions.Store(&m) }

// sessionRoutes adds the session endpoints to the node API.
func (n *Node) sessionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/session/export", func(w http.ResponseWriter, r *http.Request) {
		n.serveSession(w, r, true)
	})
	mux.HandleFunc("POST /v1/session/drop", func(w http.ResponseWriter, r *http.Request) {
		n.serveSession(w, r, false)
	})
}

// serveSession answers an export (or drop) of the session of the client
// identifier the query names. A node that still owns the identifier in its
// copy of the state refuses (409): the session moves only after the claim
// that takes it over is applied here.
func (n *Node) serveSession(w http.ResponseWriter, r *http.Request, export bool) {
	id := r.URL.Query().Get("client_id")
	mp := n.sessions.Load()
	if mp == nil {
		http.Error(w, "no session handler", http.StatusServiceUnavailable)
		return
	}
	if owner, ok := n.Owner(id); ok && owner == n.cfg.NodeID {
		http.Error(w, "client id still owned by this node", http.StatusConflict)
		return
	}
	m := *mp
	if !export {
		if err := m.DropExported(r.Context(), id); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	b, err := m.ExportSession(r.Context(), id)
	switch {
	case errors.Is(err, ErrNoSession):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
}

// FetchSession asks node (by id) for the session of clientID, taking it
// off that node: ErrNoSession if it holds none. Once the session is
// committed here, ConfirmSession lets node drop its copy.
func (n *Node) FetchSession(ctx context.Context, node, clientID string) ([]byte, error) {
	addr := n.memberAddr(node)
	if addr == "" {
		return nil, fmt.Errorf("cluster: node %s: address unknown", node)
	}
	u := scheme(n.cfg.TLS) + addr + "/v1/session/export?client_id=" + url.QueryEscape(clientID)
	resp, body, err := call(ctx, n.client, http.MethodPost, u, []byte("{}"), maxSessionSize+1)
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s: %w", node, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNoSession
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("cluster: node %s: %s: %s", node, resp.Status, body)
	case len(body) > maxSessionSize:
		return nil, fmt.Errorf("cluster: node %s: session of %q larger than %d bytes", node, clientID, maxSessionSize)
	}
	return body, nil
}

// ConfirmSession tells node that the session of clientID it exported is
// committed here: it drops its copy.
func (n *Node) ConfirmSession(ctx context.Context, node, clientID string) error {
	addr := n.memberAddr(node)
	if addr == "" {
		return fmt.Errorf("cluster: node %s: address unknown", node)
	}
	u := scheme(n.cfg.TLS) + addr + "/v1/session/drop?client_id=" + url.QueryEscape(clientID)
	resp, body, err := call(ctx, n.client, http.MethodPost, u, []byte("{}"), 4096)
	if err != nil {
		return fmt.Errorf("cluster: node %s: %w", node, err)
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("cluster: node %s: %s: %s", node, resp.Status, body)
	}
	return nil
}
