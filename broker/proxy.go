package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/internal/proxyproto"
	"github.com/midge-mqtt/midge/internal/tlsconf"
)

// This file is the PROXY protocol (Listener.ProxyProtocol,
// enable_proxy_protocol): a load balancer in front of the broker sends a
// header with the client's real address before the client's bytes.

// readProxyHeader reads the PROXY header that must start every connection
// of the listener, before TLS and MQTT, within the CONNECT deadline, and
// applies it: the client's address and, with version 2, the TLS
// information of the proxy. It reports whether the connection may go on;
// if not, it has logged why.
func (c *conn) readProxyHeader(version int) bool {
	raw := c.nc
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn() // the header precedes the TLS handshake
	}
	h, err := c.srv.proxyHeader(raw, c.ln, version)
	if err != nil {
		c.closeReason = "PROXY header: " + err.Error()
		return false
	}
	if !h.Local {
		c.proxied = h.Source
	}
	c.proxyTLS = h.TLS
	return true
}

// proxyHeader reads the PROXY header of version from raw within the
// CONNECT deadline and checks it against l's options. If it is not
// acceptable it logs why, as Mosquitto 2.1 does, and returns an error.
func (srv *Server) proxyHeader(raw net.Conn, l *listener, version int) (*proxyproto.Header, error) {
	raw.SetReadDeadline(time.Now().Add(srv.opt().connectTimeout))
	h, err := proxyproto.Read(countingReader{raw, &srv.stats}, version)
	quiet := srv.opt().QuietConnections
	if err != nil {
		switch {
		case errors.Is(err, proxyproto.ErrMalformed):
			// As Mosquitto logs it (src/proxy_v1.c, proxy_v2.c).
			srv.log.Info("Connection rejected, corrupt PROXY header.", "from", raw.RemoteAddr().String(), "err", err)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded):
			if !quiet {
				srv.log.Info(fmt.Sprintf("Connection from %s closed before its PROXY header.", raw.RemoteAddr()), "err", err)
			}
		default:
			if !quiet {
				srv.log.Info(fmt.Sprintf("Connection from %s failed reading its PROXY header: %v.", raw.RemoteAddr(), err))
			}
		}
		return nil, err
	}
	from := raw.RemoteAddr()
	if !h.Local {
		from = h.Source
	}
	cfg := &l.cfg
	switch {
	case version == 2 && cfg.ProxyRequireTLS && !h.TLS.SSL():
		srv.log.Info(fmt.Sprintf("Connection from %s rejected, client did not connect using TLS.", from))
		return nil, errors.New("no TLS")
	case cfg.ProxyRequireCertificate && !h.TLS.Certificate():
		srv.log.Info(fmt.Sprintf("Connection from %s rejected, client did not provide a certificate.", from))
		return nil, errors.New("no client certificate")
	}
	if t := h.TLS; t.SSL() && t.Version != "" && t.Cipher != "" {
		srv.log.Info(fmt.Sprintf("Connection from %s negotiated %s cipher %s", from, t.Version, t.Cipher))
	}
	return h, nil
}

// proxyListener reads the PROXY header of each connection of a WebSocket
// listener before the HTTP server (and TLS) sees any byte: on the first
// Read or RemoteAddr, which net/http calls first, in the connection's
// goroutine. Its connections report the header's address.
type proxyListener struct {
	net.Listener
	srv *Server
	l   *listener
}

func (pl proxyListener) Accept() (net.Conn, error) {
	nc, err := pl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxiedConn{Conn: nc, srv: pl.srv, l: pl.l}, nil
}

// proxiedConn is a connection of a proxyListener.
type proxiedConn struct {
	net.Conn
	srv    *Server
	l      *listener
	once   sync.Once
	remote net.Addr // set by once
	err    error    // set by once: the header was refused
}

func (pc *proxiedConn) header() {
	pc.once.Do(func() {
		pc.remote = pc.Conn.RemoteAddr()
		h, err := pc.srv.proxyHeader(pc.Conn, pc.l, pc.l.cfg.ProxyProtocol)
		pc.Conn.SetReadDeadline(time.Time{})
		if err != nil {
			pc.err = err
			pc.Conn.Close()
			return
		}
		if !h.Local {
			pc.remote = h.Source
		}
	})
}

func (pc *proxiedConn) Read(b []byte) (int, error) {
	if pc.header(); pc.err != nil {
		return 0, pc.err
	}
	return pc.Conn.Read(b)
}

// RemoteAddr returns the client's address from the header.
func (pc *proxiedConn) RemoteAddr() net.Addr {
	pc.header()
	return pc.remote
}

// countingReader counts the bytes read into the server's statistics.
type countingReader struct {
	r  io.Reader
	st *stats
}

func (cr countingReader) Read(b []byte) (int, error) {
	n, err := cr.r.Read(b)
	cr.st.bytesIn.Add(uint64(n))
	return n, err
}

// remote returns the client's address: the one its PROXY header gave, or
// the socket's peer.
func (c *conn) remote() net.Addr {
	if c.proxied != nil {
		return c.proxied
	}
	return c.nc.RemoteAddr()
}

// proxyIdentity returns the Common Name of the client certificate that the
// proxy verified (PROXY v2 PP2_SUBTYPE_SSL_CN); "" if none, or if subject
// (use_subject_as_username) is asked: the proxy does not send the subject.
func (c *conn) proxyIdentity(subject bool) string {
	if t := c.proxyTLS; !subject && t.Certificate() {
		return t.CommonName
	}
	return ""
}

// logTLS logs the TLS version and cipher a client of a TLS listener
// negotiated, as Mosquitto 2.1 does once the client is connected.
func (c *conn) logTLS(id string) {
	if st := c.tlsConnectionState(); st != nil {
		c.srv.log.Info(fmt.Sprintf("Client %s negotiated %s cipher %s", id, tlsconf.VersionName(st.Version), tlsconf.CipherName(st.CipherSuite)),
			"client_id", id)
	}
}
