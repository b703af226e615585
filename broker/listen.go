package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// Listen opens the socket a Listener describes: TCP (Network "tcp", "tcp4"
// or "tcp6"; "tcp" if empty), optionally bound to a network interface, or a
// Unix socket, whose stale file from an earlier run is removed first, as
// Mosquitto does. TLS and WebSockets are applied by Serve.
func Listen(ctx context.Context, l Listener) (net.Listener, error) {
	network := l.Network
	if network == "" {
		network = "tcp"
	}
	if network == "unix" {
		if fi, err := os.Lstat(l.Address); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			os.Remove(l.Address) // a socket left by a process that is gone
		}
	}
	// No TCP keep-alive by default: MQTT's own keep alive finds dead
	// peers, and Go's default costs four setsockopt calls per accepted
	// connection. A client that asks for no keep alive gets TCP's (see
	// handleConnect).
	lc := net.ListenConfig{KeepAlive: -1}
	if l.Interface != "" {
		if network == "unix" {
			return nil, errors.New("bind_interface applies to TCP listeners only")
		}
		lc.Control = bindToDevice(l.Interface)
	}
	ln, err := lc.Listen(ctx, network, l.Address)
	if err != nil && l.Interface != "" {
		return nil, fmt.Errorf("listen on %s bound to interface %s: %w", l.Address, l.Interface, err)
	}
	return ln, err
}
