package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/midge-mqtt/midge/internal/listensock"
	"github.com/midge-mqtt/midge/internal/wsserve"
)

// Listen opens the socket a Listener describes: TCP (Network "tcp", "tcp4"
// or "tcp6"; "tcp" if empty), optionally bound to a network interface, or a
// Unix socket, whose stale file from an earlier run is removed first, as
// Mosquitto does. TLS and WebSockets are applied by Serve.
func Listen(ctx context.Context, l Listener) (net.Listener, error) {
	return listensock.Listen(ctx, l.Network, l.Address, l.Interface)
}

// listener is a listening socket and its settings.
type listener struct {
	cfg          Listener
	name         string
	port         string
	ln           net.Listener
	localDefault bool // one of the default local-only listeners
	conns        atomic.Int64
	http         *http.Server // a WebSocket listener's; guarded by Server.mu

	versions uint8 // bit v set: protocol level v accepted; 0: all
}

// maxQoS returns the Maximum QoS for a client of l, with the server's
// options o.
func (l *listener) maxQoS(o *options) byte {
	if l.cfg.MaxQoS != 0 {
		return byte(min(max(l.cfg.MaxQoS, 0), 2))
	}
	return o.maxQoS
}

// maxTopicAlias returns the Topic Alias Maximum for a client of l.
func (l *listener) maxTopicAlias(o *options) uint16 {
	if l.cfg.MaxTopicAlias != 0 {
		return uint16(min(max(l.cfg.MaxTopicAlias, 0), 65535))
	}
	return o.maxTopicAlias
}

// maxTopicAliasOut returns how many topic aliases the server may assign
// to a client of l (within the client's own maximum).
func (l *listener) maxTopicAliasOut(o *options) int {
	switch {
	case l.cfg.MaxTopicAliasOut > 0:
		return min(l.cfg.MaxTopicAliasOut, 65535)
	case l.cfg.MaxTopicAliasOut < 0:
		return 0
	}
	return max(o.MaxTopicAliasOut, 0)
}

// autoIDPrefix returns the prefix of identifiers assigned on l.
func (l *listener) autoIDPrefix(o *options) string {
	if l.cfg.AutoIDPrefix != "" {
		return l.cfg.AutoIDPrefix
	}
	return o.autoIDPrefix
}

// denyEmptyID reports whether l refuses empty client identifiers.
func (l *listener) denyEmptyID(o *options) bool {
	if l.cfg.AllowZeroLengthClientID != nil {
		return !*l.cfg.AllowZeroLengthClientID
	}
	return o.DenyZeroLengthClientID
}

func (srv *Server) newListener(cfg Listener, ln net.Listener, localDefault bool) *listener {
	l := &listener{cfg: cfg, ln: ln, name: cfg.Name, localDefault: localDefault}
	for _, v := range cfg.ProtocolVersions {
		if v < 8 {
			l.versions |= 1 << v
		}
	}
	addr := ln.Addr().String()
	if l.name == "" {
		// The configured address is stable across restarts, which a
		// stored session's listener name relies on; the bound one may
		// not be (port 0).
		l.name = cfg.Address
	}
	if l.name == "" {
		l.name = addr
	}
	switch _, port, err := net.SplitHostPort(addr); {
	case err == nil:
		l.port = port
	case ln.Addr().Network() == "unix":
		l.port = "0" // as Mosquitto logs a Unix socket listener
	default:
		l.port = addr
	}
	return l
}

// accepts reports whether l serves clients of protocol level v.
func (l *listener) accepts(v byte) bool {
	return l.versions == 0 || v < 8 && l.versions&(1<<v) != 0
}

// security returns the rules for clients of l.
func (l *listener) security(srv *Server) *Security {
	if l.cfg.Security != nil {
		return l.cfg.Security
	}
	return &srv.security
}

// allowAnonymous reports whether clients without a user name may connect.
func (l *listener) allowAnonymous(srv *Server) bool {
	return l.localDefault || l.security(srv).AllowAnonymous
}

// serveWebSocket serves MQTT over WebSockets on l (see internal/wsserve):
// each upgraded request's goroutine carries its connection. It returns
// when the listener closes.
func (srv *Server) serveWebSocket(ctx context.Context, l *listener) error {
	hs := wsserve.NewServer(ctx, wsserve.Options{
		HTTPDir: l.cfg.HTTPDir, HeadersSize: l.cfg.WebSocketHeadersSize, Origins: l.cfg.WebSocketOrigins, Log: srv.log,
		Admit: func() bool {
			srv.stats.SocketsAccepted.Add(1)
			return srv.admit(l)
		},
		Release: func() { srv.release(l) },
		Serve: func(ctx context.Context, nc net.Conn, r *http.Request) {
			c := newConn(ctx, srv, nc, l)
			c.tlsState = r.TLS
			srv.mu.Lock()
			if srv.closed {
				srv.mu.Unlock()
				srv.release(l)
				c.close()
				return
			}
			srv.conns[c] = struct{}{}
			srv.wg.Add(1)
			srv.mu.Unlock()
			c.serve()
		},
	}, srv.opt().connectTimeout)
	srv.mu.Lock()
	l.http = hs
	srv.mu.Unlock()
	err := hs.Serve(l.ln)
	srv.mu.Lock()
	closed := srv.closed
	srv.mu.Unlock()
	if closed || errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return fmt.Errorf("broker: websockets on %s: %w", l.name, err)
}
