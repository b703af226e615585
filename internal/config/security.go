package config

import (
	"context"
	"sync/atomic"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/auth"
)

// PasswordAuth is a broker.Authenticator backed by a password file that can
// be replaced while the broker runs (SIGHUP). With no file it admits every
// client, as a broker without an Authenticator does. It is safe for
// concurrent use.
type PasswordAuth struct {
	pf atomic.Pointer[auth.PasswordFile]
}

var _ broker.Authenticator = (*PasswordAuth)(nil)

// NewPasswordAuth returns a PasswordAuth checking against pf (nil: none).
func NewPasswordAuth(pf *auth.PasswordFile) *PasswordAuth {
	a := &PasswordAuth{}
	a.pf.Store(pf)
	return a
}

// Store replaces the password file; nil removes it.
func (a *PasswordAuth) Store(pf *auth.PasswordFile) { a.pf.Store(pf) }

// File returns the password file in use, nil if none.
func (a *PasswordAuth) File() *auth.PasswordFile { return a.pf.Load() }

// Authenticate reports whether the client's user name and password are in
// the password file. As in Mosquitto, a client that gives a user name but no
// password is refused.
func (a *PasswordAuth) Authenticate(_ context.Context, c *broker.Client, password []byte, hasPassword bool) (bool, error) {
	pf := a.pf.Load()
	if pf == nil {
		return true, nil
	}
	if !hasPassword {
		return false, nil
	}
	return pf.Check(c.Username, string(password)), nil
}

// ACLAuth is a broker.Authorizer backed by an ACL file that can be replaced
// while the broker runs (SIGHUP). With no file it allows everything (the
// broker still refuses publishing to $SYS). It is safe for concurrent use.
type ACLAuth struct {
	st atomic.Pointer[aclState]
}

type aclState struct {
	acl            *auth.ACL
	checkSubscribe bool // acl_check_subscribe
}

var _ broker.Authorizer = (*ACLAuth)(nil)

// NewACLAuth returns an ACLAuth for acl (nil: none). With checkSubscribe
// (midge's acl_check_subscribe) a SUBSCRIBE to a filter the client can never
// read is refused; otherwise every subscription is granted and each message
// is checked when delivered, as in Mosquitto.
func NewACLAuth(acl *auth.ACL, checkSubscribe bool) *ACLAuth {
	a := &ACLAuth{}
	a.Store(acl, checkSubscribe)
	return a
}

// Store replaces the ACL and the acl_check_subscribe setting.
func (a *ACLAuth) Store(acl *auth.ACL, checkSubscribe bool) {
	a.st.Store(&aclState{acl: acl, checkSubscribe: checkSubscribe})
}

// ACL returns the ACL in use, nil if none.
func (a *ACLAuth) ACL() *auth.ACL { return a.st.Load().acl }

// Authorize applies the ACL file as Mosquitto 2.0 does.
func (a *ACLAuth) Authorize(_ context.Context, c *broker.Client, topic string, acc broker.Access) bool {
	st := a.st.Load()
	if st.acl == nil {
		return true
	}
	switch acc {
	case broker.Read:
		return st.acl.Allowed(c.Username, c.HasUsername, c.ID, topic, auth.Read)
	case broker.Write:
		return st.acl.Allowed(c.Username, c.HasUsername, c.ID, topic, auth.Write)
	case broker.Subscribe:
		return !st.checkSubscribe || st.acl.CanEverRead(c.Username, c.HasUsername, c.ID, topic)
	}
	return false
}
