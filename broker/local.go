package broker

import (
	"context"
	"net"

	"github.com/midge-mqtt/midge/internal/localpair"
	"github.com/midge-mqtt/midge/internal/topic"
)

// DialLocal connects an in-process client to the server: the returned
// net.Conn is the client's end of a byte stream whose other end the server
// serves like an accepted connection, so the client's session is a session
// like any other (queue, in-flight window, Receive Maximum, store records,
// crash recovery). It is how a bridge's local side is built: a session
// without a network socket.
//
// The connection is trusted: it needs no user name or password and the
// Authorizer is not asked about what it publishes, subscribes to or
// receives (Mosquitto's local bridge contexts bypass the ACL checks), and
// max_connections does not count it. name names it in logs and
// SessionInfo.Listener. The caller speaks MQTT on the returned Conn
// (CONNECT first) and closes it when done; Shutdown and Close end it like
// any connection. DialLocal returns ErrServerClosed after Shutdown.
func (srv *Server) DialLocal(ctx context.Context, name string) (net.Conn, error) {
	if err := srv.start(ctx); err != nil {
		return nil, err
	}
	mine, theirs, err := localpair.New()
	if err != nil {
		return nil, err
	}
	l := &listener{
		cfg:  Listener{Name: name, Security: &Security{AllowAnonymous: true}},
		name: name, port: "0", localDefault: true,
	}
	c := newConn(srv.ctx, srv, theirs, l)
	srv.stats.Connections.Add(1)
	l.conns.Add(1)
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		srv.release(l)
		c.close()
		mine.Close()
		return nil, ErrServerClosed
	}
	srv.conns[c] = struct{}{}
	srv.wg.Add(1)
	srv.mu.Unlock()
	go c.serve()
	return mine, nil
}

// PublishSystem publishes m as the broker itself, like Publish, but also to
// the $SYS tree: for components of the broker such as a bridge's
// notifications on $SYS/broker/connection/<id>/state. m must not be changed
// afterwards.
func (srv *Server) PublishSystem(ctx context.Context, m *Message) error {
	if !topic.IsSys(m.Topic) {
		return srv.Publish(ctx, m)
	}
	return srv.publishWait(ctx, m)
}

// sysWriteDenied reports whether a client may not publish to name because
// it is in the $SYS tree (see topic.SysWriteDenied).
func sysWriteDenied(name string) bool { return topic.SysWriteDenied(name) }
