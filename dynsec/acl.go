package dynsec

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/topic"
)

var (
	_ broker.Authenticator = (*Security)(nil)
	_ broker.Explainer     = (*Security)(nil)
)

// Authenticate checks a client's user name and password against the
// configured clients, as the plugin's basic-auth check does: it defers for
// a client without a user name or without a password and for an unknown
// user; it denies a disabled client, a client whose client id is not the
// one configured for the user, and a wrong password (or a client that has
// none).
func (s *Security) Authenticate(_ context.Context, c *broker.Client, password []byte, hasPassword bool) (broker.Verdict, error) {
	if !c.HasUsername || !hasPassword {
		return broker.Defer, nil
	}
	s.mu.RLock()
	cl := s.st.clients[c.Username]
	var hash, clientID string
	var disabled bool
	if cl != nil {
		hash, clientID, disabled = cl.password, cl.clientID, cl.disabled
	}
	s.mu.RUnlock()
	switch {
	case cl == nil:
		return broker.Defer, nil
	case disabled, clientID != "" && clientID != c.ID, hash == "":
		return broker.Deny, nil
	}
	if ok, err := auth.VerifyHash(hash, string(password)); err != nil || !ok {
		return broker.Deny, nil
	}
	return broker.Allow, nil
}

// Authorize decides as the plugin's ACL check does; see the package
// documentation for the order of evaluation.
func (s *Security) Authorize(_ context.Context, c *broker.Client, name string, a broker.Access) broker.Verdict {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.decide(c, name, a, nil)
}

// Explain is Authorize with the reason for its verdict.
func (s *Security) Explain(_ context.Context, c *broker.Client, name string, a broker.Access) broker.Decision {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var d broker.Decision
	d.Verdict = s.st.decide(c, name, a, &d)
	d.Allowed = d.Verdict == broker.Allow
	return d
}

// decide evaluates the ACLs for c. If d is not nil, it is given the rule,
// section and reason.
func (st *state) decide(c *broker.Client, name string, a broker.Access, d *broker.Decision) broker.Verdict {
	var def int
	switch a {
	case broker.Write:
		def = defPubSend
	case broker.Read:
		def = defPubRecv
	case broker.Subscribe:
		def = defSubscribe
	case broker.Unsubscribe:
		def = defUnsubscribe
	default:
		if d != nil {
			d.Reason = "dynamic security does not know the access " + a.String()
		}
		return broker.Defer
	}
	who := "anonymous clients"
	if c.HasUsername {
		cl := st.clients[c.Username]
		if cl == nil {
			if d != nil {
				d.Reason = "dynamic security has no client " + strconv.Quote(c.Username) + ", so it leaves the decision to the next authorizer"
			}
			return broker.Defer
		}
		if d != nil { // the words only for an explanation: no allocation otherwise
			who = "client " + strconv.Quote(cl.username)
		}
		if v := st.checkRoles(cl.roles, c, name, a, d, who); v != broker.Defer {
			return v
		}
		for _, gl := range cl.groups {
			gwho := ""
			if d != nil {
				gwho = "group " + strconv.Quote(gl.group.name) + " of " + who
			}
			if v := st.checkRoles(gl.group.roles, c, name, a, d, gwho); v != broker.Defer {
				return v
			}
		}
	} else if g := st.anonGroup; g != nil {
		if v := st.checkRoles(g.roles, c, name, a, d, "the anonymous group "+strconv.Quote(g.name)); v != broker.Defer {
			return v
		}
	}
	allow := st.defaults[def]
	if d != nil {
		d.Section = "defaultACLAccess"
		d.Rule = defaultNames[def] + " " + map[bool]string{true: "allow", false: "deny"}[allow]
	}
	switch {
	case !allow:
		if d != nil {
			d.Reason = "no ACL of the roles of " + who + " matches, and the default access " + defaultNames[def] + " is deny: dynamic security leaves the decision to the next authorizer"
		}
		return broker.Defer
	case strings.HasPrefix(name, "$CONTROL"):
		if d != nil {
			d.Reason = "no ACL of the roles of " + who + " matches, and a default access never grants $CONTROL topics"
		}
		return broker.Defer
	}
	if d != nil {
		d.Reason = "no ACL of the roles of " + who + " matches, and the default access " + defaultNames[def] + " is allow"
	}
	return broker.Allow
}

// checkRoles checks the roles of a list in order: the first ACL that
// matches decides; Defer if none does.
func (st *state) checkRoles(rs []roleLink, c *broker.Client, name string, a broker.Access, d *broker.Decision, who string) broker.Verdict {
	for _, rl := range rs {
		r := rl.role
		var v broker.Verdict
		var hit *acl
		var typ int
		switch a {
		case broker.Write:
			typ = 0
			hit = matchName(r.acls[0], c, name)
		case broker.Read:
			typ = 1
			hit = matchName(r.acls[1], c, name)
		case broker.Subscribe:
			if !r.allowWildcardSubs && strings.ContainsAny(name, "+#") {
				if d != nil {
					d.Section = "role " + strconv.Quote(r.name) + " of " + who
					d.Rule = "allowwildcardsubs false"
					d.Reason = "the role does not allow subscriptions with wildcards"
				}
				return broker.Deny
			}
			if i := findACL(r.acls[2], name); i >= 0 {
				typ, hit = 2, r.acls[2][i]
			} else if hit = matchFilter(r.acls[3], c, name); hit != nil {
				typ = 3
			}
		case broker.Unsubscribe:
			if i := findACL(r.acls[4], name); i >= 0 {
				typ, hit = 4, r.acls[4][i]
			} else if hit = matchFilter(r.acls[5], c, name); hit != nil {
				typ = 5
			}
		}
		if hit == nil {
			continue
		}
		v = broker.Deny
		word := "deny"
		if hit.allow {
			v, word = broker.Allow, "allow"
		}
		if d != nil {
			d.Section = "role " + strconv.Quote(r.name) + " of " + who
			d.Rule = fmt.Sprintf("%s %s %s (priority %d)", aclTypes[typ], word, hit.topic, hit.priority)
			d.Reason = "the first matching ACL of the client's roles, in priority order, decides: " + word
		}
		return v
	}
	return broker.Defer
}

// substitutable reports whether a's pattern can be filled in for c, as
// Mosquitto 2.1 compares a %c or %u level with the client id or user name:
// a client without a user name never matches %u, and a client id or user
// name with '/', '+' or '#' never equals one level of a topic (put in, it
// would span levels or be a wildcard).
func substitutable(a *acl, c *broker.Client) bool {
	if a.pattern.HasUsername() && (!c.HasUsername || strings.ContainsAny(c.Username, "/+#")) {
		return false
	}
	return !a.pattern.HasClientID() || !strings.ContainsAny(c.ID, "/+#")
}

// matchName returns the first ACL of list whose filter (with %c and %u
// put in) matches the topic name; nil if none.
func matchName(list []*acl, c *broker.Client, name string) *acl {
	for _, a := range list {
		if !substitutable(a, c) {
			continue
		}
		if a.pattern.Match(c.ID, c.Username, name) {
			return a
		}
	}
	return nil
}

// matchFilter returns the first ACL of list whose filter (with %c and %u
// put in) covers every topic the requested filter can match.
func matchFilter(list []*acl, c *broker.Client, filter string) *acl {
	var m []string
	for _, a := range list {
		if !substitutable(a, c) {
			continue
		}
		if m == nil {
			m = strings.Split(filter, "/")
		}
		f := a.pattern.Expand(c.ID, c.Username)
		if !topic.ValidACLFilter(f) {
			continue
		}
		if topic.Covers(strings.Split(f, "/"), m) {
			return a
		}
	}
	return nil
}

// Fingerprint returns a digest of the configured client username — its
// password hash, client id and whether it is disabled — and whether
// dynamic security knows the user. A login made elsewhere (the dashboard)
// lasts only as long as the fingerprint stays what it was at the login:
// a new password, disabling or deleting the client ends it.
func (s *Security) Fingerprint(username string) (fp [32]byte, known bool) {
	s.mu.RLock()
	cl := s.st.clients[username]
	var hash, clientID string
	var disabled bool
	if cl != nil {
		hash, clientID, disabled = cl.password, cl.clientID, cl.disabled
	}
	s.mu.RUnlock()
	if cl == nil {
		return fp, false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %t", username, hash, clientID, disabled)
	h.Sum(fp[:0])
	return fp, true
}
