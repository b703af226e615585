package client

import (
	"context"
	"net"
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
	return s.dialWith(ctx, e, d)
}
