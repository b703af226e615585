package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opt().connectTimeout))
	raw := c.nc
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn() // the header precedes the TLS handshake
	}
	h, err := proxyproto.Read(countingReader{raw, &c.srv.stats}, version)
	quiet := c.srv.opt().QuietConnections
	if err != nil {
		switch {
		case errors.Is(err, proxyproto.ErrMalformed):
			// As Mosquitto logs it (src/proxy_v1.c, proxy_v2.c).
			c.srv.log.Info("Connection rejected, corrupt PROXY header.", "from", c.nc.RemoteAddr().String(), "err", err)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded):
			if !quiet {
				c.srv.log.Info(fmt.Sprintf("Connection from %s closed before its PROXY header.", c.nc.RemoteAddr()), "err", err)
			}
		default:
			if !quiet {
				c.srv.log.Info(fmt.Sprintf("Connection from %s failed reading its PROXY header: %v.", c.nc.RemoteAddr(), err))
			}
		}
		c.closeReason = "PROXY header: " + err.Error()
		return false
	}
	if !h.Local {
		c.proxied = h.Source
	}
	c.proxyTLS = h.TLS
	cfg := &c.ln.cfg
	switch {
	case version == 2 && cfg.ProxyRequireTLS && !h.TLS.SSL():
		c.srv.log.Info(fmt.Sprintf("Connection from %s rejected, client did not connect using TLS.", c.remoteAddr()))
		c.closeReason = "PROXY header without TLS"
		return false
	case cfg.ProxyRequireCertificate && !h.TLS.Certificate():
		c.srv.log.Info(fmt.Sprintf("Connection from %s rejected, client did not provide a certificate.", c.remoteAddr()))
		c.closeReason = "PROXY header without a client certificate"
		return false
	}
	if t := h.TLS; t.SSL() && t.Version != "" && t.Cipher != "" {
		c.srv.log.Info(fmt.Sprintf("Connection from %s negotiated %s cipher %s", c.remoteAddr(), t.Version, t.Cipher))
	}
	return true
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
