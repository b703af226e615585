//go:build !unix

package broker

import "net"

// localPair returns the two ends of an in-memory pipe.
func localPair() (net.Conn, net.Conn, error) {
	a, b := net.Pipe()
	return a, b, nil
}
