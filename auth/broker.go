package auth

import (
	"context"

	"github.com/midge-mqtt/midge/broker"
)

var (
	_ broker.Authenticator = (*PasswordFile)(nil)
	_ broker.Explainer     = (*ACL)(nil)
	_ broker.Explainer     = SubscribeChecker{}
)

// Authenticate implements broker.Authenticator for password_file, as
// Mosquitto 2.0's default password check: it defers for a client without a
// user name (allow_anonymous decides), refuses one whose user name is not in
// the file or that sent no password, and checks the password of the others.
// Mosquitto 2.0 reads a zero-length user name or password as none, so an
// empty user name defers and an empty password never matches, even the hash
// of "" that mosquitto_passwd writes. The error is always nil.
func (pf *PasswordFile) Authenticate(_ context.Context, c *broker.Client, password []byte, hasPassword bool) (broker.Verdict, error) {
	switch {
	case !c.HasUsername || c.Username == "":
		return broker.Defer, nil
	case hasPassword && len(password) > 0 && pf.Check(c.Username, string(password)):
		return broker.Allow, nil
	}
	return broker.Deny, nil
}

// Authorize implements broker.Authorizer for acl_file with Mosquitto 2.0's
// rules: see Allowed. Every SUBSCRIBE and UNSUBSCRIBE is allowed; each message is checked for
// Read as it is delivered (SubscribeChecker refuses hopeless subscriptions).
// A file without any topic or pattern line defers, as Mosquitto's does.
func (a *ACL) Authorize(_ context.Context, c *broker.Client, topic string, acc broker.Access) broker.Verdict {
	switch {
	case a.Allowed(c.Username, c.HasUsername, c.ID, topic, acc):
		return broker.Allow
	case a.empty():
		return broker.Defer
	}
	return broker.Deny
}

// empty reports whether the file has no rules.
func (a *ACL) empty() bool {
	if len(a.anon.deny)+len(a.anon.allow)+len(a.patterns.deny)+len(a.patterns.allow) > 0 {
		return false
	}
	for _, rs := range a.users {
		if len(rs.deny)+len(rs.allow) > 0 {
			return false
		}
	}
	return true
}

// SubscribeChecker is an ACL for acl_check_subscribe true: as ACL.Authorize,
// but a SUBSCRIBE is refused when CanEverRead says the filter could never
// deliver a message to the client.
type SubscribeChecker struct {
	*ACL
}

// Authorize implements broker.Authorizer.
func (s SubscribeChecker) Authorize(ctx context.Context, c *broker.Client, topic string, acc broker.Access) broker.Verdict {
	if acc != broker.Subscribe {
		return s.ACL.Authorize(ctx, c, topic, acc)
	}
	if s.CanEverRead(c.Username, c.HasUsername, c.ID, topic) {
		return broker.Allow
	}
	return broker.Deny
}

// Explain implements broker.Explainer.
func (s SubscribeChecker) Explain(ctx context.Context, c *broker.Client, topic string, acc broker.Access) broker.Decision {
	if acc != broker.Subscribe {
		return s.ACL.Explain(ctx, c, topic, acc)
	}
	if s.CanEverRead(c.Username, c.HasUsername, c.ID, topic) {
		return broker.Decision{Verdict: broker.Allow, Allowed: true, Reason: "some topic the filter matches is one the client may read (acl_check_subscribe)"}
	}
	return broker.Decision{Verdict: broker.Deny, Reason: "the filter matches no topic the client may read (acl_check_subscribe)"}
}
