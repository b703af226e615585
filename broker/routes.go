package broker

import (
	"context"
	"slices"
)

// A server's routes are the filters its sessions subscribe to
// (Config.OnRoute); a cluster forwards a message to a node only if one of
// the node's routes matches it, and picks one node per shared subscription
// group (Config.SharedChoice, RouteSelected).

// flushRoutes calls Config.OnRoute with the route changes the index
// recorded, in order. Every change of the index calls it, with no lock
// held, so a change has been reported when the goroutine that made it
// returns from here: the holder of routeMu reports the changes of others
// too, and they wait for it. It costs an atomic load when nothing changed.
func (srv *Server) flushRoutes() {
	f := srv.cfg.OnRoute
	if f == nil {
		return
	}
	srv.routeMu.Lock()
	defer srv.routeMu.Unlock()
	for {
		srv.routeBuf = srv.index.TakeFilterChanges(srv.routeBuf[:0])
		if len(srv.routeBuf) == 0 {
			return
		}
		for _, c := range srv.routeBuf {
			f(c.Filter, c.Added)
		}
		clear(srv.routeBuf)
	}
}

// Selection restricts the subscriptions a message of RouteSelected goes
// to: a cluster node delivers there what another node chose it for.
type Selection struct {
	// Plain: the subscriptions that are not shared get the message.
	Plain bool
	// Groups are the shared subscription groups (their filters,
	// "$share/NAME/FILTER") of which one member gets the message; the
	// others get nothing. Config.SharedChoice is not asked.
	Groups []string
}

// RouteSelected is Route (deliver without storing as retained) to the
// subscriptions sel selects only.
func (srv *Server) RouteSelected(ctx context.Context, m *Message, sel Selection) error {
	m.sel = &sel
	return srv.Route(ctx, m)
}

// sharedHere reports whether a member of the group with filter group on
// this server gets m (Config.SharedChoice, or m's Selection).
func (srv *Server) sharedHere(m *Message, group string) bool {
	if m.sel != nil {
		return slices.Contains(m.sel.Groups, group)
	}
	if f := srv.cfg.SharedChoice; f != nil {
		return f(m, group)
	}
	return true
}
