package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/packet"
)

// DialNetwork opens the network connection that Dial would open for opts:
// TCP, TLS, WebSocket or a Unix socket, as opts.Address says, with opts.TLS
// and the WebSocket subprotocol of opts.ProtocolVersion. It sends nothing
// on it. d makes the socket underneath; nil means a zero net.Dialer, as
// Dial uses. opts.Dial is ignored.
//
// It is for programs that set Options.Dial to wrap or bind the connection
// Dial would have made: midge's pub, sub and rr bind to the local address
// their -A option names, and read the order of MQTT 5 properties off the
// wire, which packet.Properties does not keep. The connection is the
// caller's.
func DialNetwork(ctx context.Context, opts Options, d *net.Dialer) (net.Conn, error) {
	s, err := opts.settings()
	if err != nil {
		return nil, err
	}
	e, err := parseAddress(s.Address, s.TLS != nil)
	if err != nil {
		return nil, err
	}
	if d == nil {
		d = &net.Dialer{}
	}
	switch e.scheme {
	case "tcp":
		return d.DialContext(ctx, "tcp", e.addr)
	case "unix":
		return d.DialContext(ctx, "unix", e.addr)
	case "tls":
		td := tls.Dialer{NetDialer: d, Config: s.tlsConfig(e.host)}
		return td.DialContext(ctx, "tcp", e.addr)
	}
	// WebSocket, as dialWebSocket does, but through d.
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
	return websocket.NetConn(context.Background(), ws, websocket.MessageBinary), nil
}
