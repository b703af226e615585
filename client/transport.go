package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/packet"
)

// endpoint is a parsed Options.Address.
type endpoint struct {
	scheme string // "tcp", "tls", "ws", "wss" or "unix"
	addr   string // host:port, or the socket path
	url    string // for WebSocket: the URL to dial
	host   string // for TLS ServerName
	user   *url.Userinfo
}

// parseAddress parses Options.Address; secure is whether TLS was configured.
func parseAddress(address string, secure bool) (endpoint, error) {
	if address == "" {
		address = "localhost:1883"
	}
	if p, ok := strings.CutPrefix(address, "unix:"); ok && !strings.HasPrefix(p, "//") {
		return endpoint{scheme: "unix", addr: p}, nil // unix:relative/path or unix:/abs/path
	}
	if !strings.Contains(address, "://") {
		address = "tcp://" + address
	}
	u, err := url.Parse(address)
	if err != nil {
		return endpoint{}, &OptionError{Field: "Address", Reason: err.Error()}
	}
	e := endpoint{user: u.User}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "mqtt", "tcp":
		e.scheme, port = "tcp", "1883"
		if secure {
			e.scheme, port = "tls", "8883"
		}
	case "mqtts", "ssl", "tls", "tcps":
		e.scheme, port = "tls", "8883"
	case "ws":
		e.scheme, port = "ws", "80"
		if secure {
			e.scheme, port = "wss", "443"
		}
	case "wss":
		e.scheme, port = "wss", "443"
	case "unix":
		e.scheme, e.addr = "unix", u.Path
		if e.addr == "" {
			return endpoint{}, &OptionError{Field: "Address", Reason: "unix address without a path"}
		}
		return e, nil
	default:
		return endpoint{}, &OptionError{Field: "Address", Reason: "unknown scheme " + strconvQuote(u.Scheme)}
	}
	e.host = u.Hostname()
	if e.host == "" {
		return endpoint{}, &OptionError{Field: "Address", Reason: "no host in " + strconvQuote(address)}
	}
	if p := u.Port(); p != "" {
		port = p
	}
	e.addr = net.JoinHostPort(e.host, port)
	if e.scheme == "ws" || e.scheme == "wss" {
		path := u.EscapedPath()
		if path == "" {
			path = "/mqtt"
		}
		scheme := "http"
		if e.scheme == "wss" {
			scheme = "https"
		}
		e.url = scheme + "://" + e.addr + path
		if u.RawQuery != "" {
			e.url += "?" + u.RawQuery
		}
	}
	return e, nil
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

// tlsConfig returns the TLS configuration for host.
func (s *settings) tlsConfig(host string) *tls.Config {
	var c *tls.Config
	if s.TLS != nil {
		c = s.TLS.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// dial opens the network connection.
func (s *settings) dial(ctx context.Context, e endpoint) (net.Conn, error) {
	if s.Dial != nil {
		return s.Dial(ctx)
	}
	return s.dialWith(ctx, e, &net.Dialer{})
}

// dialWith opens the connection to e with d making the socket underneath.
func (s *settings) dialWith(ctx context.Context, e endpoint, d *net.Dialer) (net.Conn, error) {
	switch e.scheme {
	case "tcp":
		return d.DialContext(ctx, "tcp", e.addr)
	case "unix":
		return d.DialContext(ctx, "unix", e.addr)
	case "tls":
		td := tls.Dialer{NetDialer: d, Config: s.tlsConfig(e.host)}
		return td.DialContext(ctx, "tcp", e.addr)
	}
	return s.dialWebSocket(ctx, e, d)
}

// dialWebSocket opens a WebSocket with subprotocol "mqtt" ("mqttv3.1" for
// MQTT 3.1) and adapts its binary messages to a byte stream.
func (s *settings) dialWebSocket(ctx context.Context, e endpoint, d *net.Dialer) (net.Conn, error) {
	proto := "mqtt"
	if s.version == packet.Version31 {
		proto = "mqttv3.1"
	}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext, ForceAttemptHTTP2: false}
	if e.scheme == "wss" {
		tr.TLSClientConfig = s.tlsConfig(e.host)
	}
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		Subprotocols: []string{proto},
	})
	if err != nil {
		return nil, err
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if ws.Subprotocol() != proto {
		ws.Close(websocket.StatusProtocolError, "subprotocol "+proto+" required")
		return nil, fmt.Errorf("server did not accept WebSocket subprotocol %q", proto)
	}
	// The connection lives until Close, not as long as ctx (the dial's).
	return websocket.NetConn(context.Background(), ws, websocket.MessageBinary), nil
}
