package broker

import "github.com/midge-mqtt/midge/packet"

// DisconnectClients closes the connections of every connected client for
// which match returns true, as Disconnect does (MQTT 5: reason code 0x98,
// Administrative action), and returns how many there were. Their wills are
// dropped, not published: it is how a security component kicks the clients
// whose rights it changed (Mosquitto's mosquitto_kick_client_by_username
// with with_will false; dynamic security kicks by user name, and anonymous
// clients). match must not call the Server.
func (srv *Server) DisconnectClients(match func(c *Client) bool) int {
	srv.mu.Lock()
	ss := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		ss = append(ss, s)
	}
	srv.mu.Unlock()
	n := 0
	for _, s := range ss {
		id := s.ident.Load()
		if id == nil || !match(&id.client) {
			continue
		}
		s.mu.Lock()
		c := s.conn
		if c != nil {
			c.will = nil // guarded by s.mu, as attach and detach use it
		}
		s.mu.Unlock()
		if c != nil {
			c.kick("administrative action", packet.AdministrativeAction)
			n++
		}
	}
	return n
}
