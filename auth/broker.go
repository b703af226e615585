package auth

import (
	"context"

	"github.com/midge-mqtt/midge/broker"
)

var (
	_ broker.Authenticator = (*PasswordFile)(nil)
	_ broker.Authorizer    = (*ACL)(nil)
	_ broker.Authorizer    = SubscribeChecker{}
)

// Authenticate implements broker.Authenticator for password_file: a client
// that sent a password is checked with Check; one that sent a username but
// no password is refused, as Mosquitto refuses it. The error is always nil.
func (pf *PasswordFile) Authenticate(_ context.Context, c *broker.Client, password []byte, hasPassword bool) (bool, error) {
	if !hasPassword {
		return false, nil
	}
	return pf.Check(c.Username, string(password)), nil
}

// Authorize implements broker.Authorizer for acl_file with Mosquitto 2.0's
// rules: see Allowed. Every SUBSCRIBE is allowed; each message is checked for
// Read as it is delivered. SubscribeChecker refuses hopeless subscriptions.
func (a *ACL) Authorize(_ context.Context, c *broker.Client, topic string, acc broker.Access) bool {
	return a.Allowed(c.Username, c.HasUsername, c.ID, topic, fromBroker(acc))
}

// SubscribeChecker is an ACL for acl_check_subscribe true: as ACL.Authorize,
// but a SUBSCRIBE is refused when CanEverRead says the filter could never
// deliver a message to the client.
type SubscribeChecker struct {
	ACL *ACL
}

// Authorize implements broker.Authorizer.
func (s SubscribeChecker) Authorize(ctx context.Context, c *broker.Client, topic string, acc broker.Access) bool {
	if acc == broker.Subscribe {
		return s.ACL.CanEverRead(c.Username, c.HasUsername, c.ID, topic)
	}
	return s.ACL.Authorize(ctx, c, topic, acc)
}

// fromBroker converts the broker's access kind; both use Mosquitto's values.
func fromBroker(acc broker.Access) Access {
	switch acc {
	case broker.Read:
		return Read
	case broker.Write:
		return Write
	case broker.Subscribe:
		return Subscribe
	}
	return 0
}
