package listensock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// Listen opens a socket on network ("tcp", "tcp4", "tcp6" or "unix"; "tcp"
// if empty) and address, bound to the network interface iface if it is not
// "" (TCP only, Linux only). A Unix socket's stale file from an earlier run
// is removed first.
func Listen(ctx context.Context, network, address, iface string) (net.Listener, error) {
	if network == "" {
		network = "tcp"
	}
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			os.Remove(address) // a socket left by a process that is gone
		}
	}
	// No TCP keep-alive by default: MQTT's own keep alive finds dead
	// peers, and Go's default costs four setsockopt calls per accepted
	// connection. A client that asks for no keep alive gets TCP's (see
	// the broker's handleConnect).
	lc := net.ListenConfig{KeepAlive: -1}
	if iface != "" {
		if network == "unix" {
			return nil, errors.New("bind_interface applies to TCP listeners only")
		}
		lc.Control = bindToDevice(iface)
	}
	ln, err := lc.Listen(ctx, network, address)
	if err != nil && iface != "" {
		return nil, fmt.Errorf("listen on %s bound to interface %s: %w", address, iface, err)
	}
	return ln, err
}
