package cluster

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// A node's addresses: it listens on Listen and Gossip, tells the other
// nodes Advertise and GossipAdvertise when they are set (NAT, containers,
// proxies), and dials the other nodes from the IP address of Listen (of
// Gossip for memberlist's TCP streams) when that names one, so that the
// source address of its connections is the node's, as firewall rules on a
// host with several addresses expect.

// sourceAddr returns the source address for connections of a node that
// listens on listen: its IP with any port, or nil when listen names no
// single IP (a host name, or an unspecified address).
func sourceAddr(listen string) net.Addr {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ip}
}

// gossipTransport returns memberlist's network transport bound to host
// and port, whose TCP streams come from host when it is an IP address,
// and the port it bound (port 0 picks one).
func gossipTransport(host string, port int, c *memberlist.Config) (memberlist.NodeAwareTransport, int, error) {
	var nt *memberlist.NetTransport
	var err error
	// As memberlist does: a port picked for TCP may be taken for UDP, so
	// port 0 is tried a few times.
	for try := 0; try == 0 || (port == 0 && try < 10 && strings.Contains(err.Error(), "address already in use")); try++ {
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port,
			Logger: c.Logger})
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, 0, err
	}
	if port == 0 {
		port = nt.GetAutoBindPort()
		c.AdvertisePort = port
	}
	local := sourceAddr(net.JoinHostPort(host, strconv.Itoa(port)))
	if local == nil {
		return nt, port, nil
	}
	return &boundTransport{NetTransport: nt, local: local}, port, nil
}

// boundTransport is memberlist's NetTransport whose TCP streams are dialed
// from a given source address (its UDP packets leave from the bound
// socket already).
type boundTransport struct {
	*memberlist.NetTransport
	local net.Addr
}

// DialTimeout dials addr from the transport's source address.
func (t *boundTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout dials a.Addr from the transport's source address.
func (t *boundTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: t.local}
	return d.Dial("tcp", a.Addr)
}
