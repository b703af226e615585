package broker

import (
	"context"
	"net"
)

// Client describes a connected client to an Authenticator or Authorizer. It
// must not be modified.
type Client struct {
	ID          string // client identifier
	Username    string
	HasUsername bool
	Remote      net.Addr
	Listener    string // Listener.Name
	Version     byte   // protocol level: 3, 4 or 5
	// CommonName is the subject common name of a verified TLS client
	// certificate, if any.
	CommonName string
}

// Access is what a client asks to do with a topic.
type Access int

// Kinds of access.
const (
	Read      Access = 1 // receive a message published to a topic
	Write     Access = 2 // publish to a topic
	Subscribe Access = 4 // subscribe to a filter
)

// String returns "read", "write" or "subscribe".
func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	case Subscribe:
		return "subscribe"
	}
	return "access?"
}

// Authenticator checks the credentials of a connecting client. It is called
// only for clients that present a user name. Implementations must be safe
// for concurrent use.
type Authenticator interface {
	// Authenticate reports whether the client may connect with this user name
	// and password. An error means the check could not be made (the client is
	// refused with "server unavailable").
	Authenticate(ctx context.Context, c *Client, password []byte, hasPassword bool) (bool, error)
}

// Authorizer decides who may publish to, receive from and subscribe to what.
// Implementations must be safe for concurrent use and fast: Authorize is
// called for every message delivered.
type Authorizer interface {
	// Authorize reports whether c may perform a on topic. For Read and Write,
	// topic is a topic name; for Subscribe, a topic filter (a shared
	// subscription's filter without its $share/{name}/ prefix).
	Authorize(ctx context.Context, c *Client, topic string, a Access) bool
}
