package broker

import (
	"crypto/tls"
	"fmt"
	"net"

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
	h, err := c.srv.proxyPolicy(c.ln, version).Accept(raw)
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

// proxyPolicy returns how connections of l read their PROXY header of
// version (see internal/proxyproto).
func (srv *Server) proxyPolicy(l *listener, version int) *proxyproto.Policy {
	return &proxyproto.Policy{
		Version: version, RequireTLS: l.cfg.ProxyRequireTLS, RequireCertificate: l.cfg.ProxyRequireCertificate,
		Timeout: srv.opt().connectTimeout, Quiet: srv.opt().QuietConnections, Log: srv.log,
		Count: func(n int) { srv.stats.BytesIn.Add(uint64(n)) },
	}
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
