package broker

import (
	"context"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/dynsec"
	"github.com/midge-mqtt/midge/web"
)

// chainLogins checks dashboard logins with the listener's authentication
// chain, as an MQTT client with the same user name and password and an
// empty client id would be checked: dynamic security first, then the
// password file. It is used when dynamic security is configured (the chain
// then has a link, so allow_anonymous never admits a user name).
type chainLogins struct {
	sec *broker.Security
	ds  *dynsec.Security
	pf  func() web.Passwords // the scope's password file; nil, or a nil result, if none
}

var _ web.Passwords = chainLogins{}

// Check implements web.Passwords.
func (l chainLogins) Check(username, password string) bool {
	c := &broker.Client{Username: username, HasUsername: true}
	ok, err := l.sec.Authenticate(context.Background(), c, []byte(password), true)
	return err == nil && ok
}

// Fingerprint implements web.Passwords: the entry that decided the login,
// dynamic security's if it knows the user, else the password file's.
func (l chainLogins) Fingerprint(username string) ([32]byte, bool) {
	if fp, ok := l.ds.Fingerprint(username); ok {
		return fp, true
	}
	if l.pf != nil {
		if pf := l.pf(); pf != nil {
			return pf.Fingerprint(username)
		}
	}
	return [32]byte{}, false
}
