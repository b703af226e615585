// Package proxyproto reads the PROXY protocol header (versions 1 and 2, as
// HAProxy specifies them) that a load balancer sends before a client's own
// bytes, to tell the server the client's real address and, in version 2,
// what it learnt from a TLS connection it terminated.
//
// Read never reads past the header: what follows it (MQTT, or a TLS
// handshake) is still unread on the connection, so the caller keeps using
// the connection as it is, without a buffering wrapper. A version 2 header
// says its length; a version 1 line is read in chunks no longer than the
// shortest valid rest of the line, a few reads per header.
//
// A Policy reads a header and checks it against a listener's options,
// logging refusals as Mosquitto 2.1 does; Listener wraps a listener whose
// connections read their header on first use (a WebSocket listener, where
// net/http owns the connection).
//
// It is tested with hand-made headers (every malformed shape its parser
// rejects) and, through the broker, over real TCP and with a real HAProxy
// (interop).
package proxyproto
