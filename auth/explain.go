package auth

import (
	"context"
	"strconv"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/topic"
)

// Explain implements broker.Explainer: it answers the question Authorize
// answers and says which line of the file decided and why, with the
// verdict in Decision.Verdict and Allowed's answer in Decision.Allowed
// (Rule is the line, as "topic readwrite home/#", and Section where it is:
// `user "alice"`, "before the first user line" or "patterns"). It is slower
// than Authorize (it builds strings) and meant for people, not the publish
// path.
func (a *ACL) Explain(_ context.Context, c *broker.Client, name string, acc broker.Access) broker.Decision {
	d := a.explain(c.Username, c.HasUsername, c.ID, name, acc)
	d.Verdict = broker.Deny
	if d.Allowed {
		d.Verdict = broker.Allow
	} else if a.empty() && acc != broker.Subscribe && acc != broker.Unsubscribe {
		d.Verdict = broker.Defer
	}
	return d
}

// explain is Explain with the client's names apart.
func (a *ACL) explain(username string, hasUsername bool, clientID, name string, acc broker.Access) broker.Decision {
	switch acc {
	case broker.Read, broker.Write:
	case broker.Subscribe:
		return broker.Decision{Allowed: true, Reason: "Mosquitto's ACL file grants every subscription; each message is checked for read access as it is delivered"}
	case broker.Unsubscribe:
		return broker.Decision{Allowed: true, Reason: "Mosquitto's ACL file grants every unsubscription"}
	default:
		return broker.Decision{Reason: "unknown access " + acc.String()}
	}
	own, section := a.anon, "before the first user line"
	if hasUsername {
		own, section = a.users[username], "user "+strconv.Quote(username)
	}
	for i := range own.deny {
		if r := &own.deny[i]; topic.Match(r.filter, name) {
			return broker.Decision{Rule: r.text("topic"), Section: section,
				Reason: "the client's own deny rule " + strconv.Quote(r.filter) + " matches " + strconv.Quote(name)}
		}
	}
	for i := range own.allow {
		if r := &own.allow[i]; r.access&acc != 0 && topic.Match(r.filter, name) {
			return broker.Decision{Allowed: true, Rule: r.text("topic"), Section: section,
				Reason: "the client's own rule " + strconv.Quote(r.filter) + " grants " + acc.String() + " on " + strconv.Quote(name)}
		}
	}
	ownNote := "no topic line " + section + " matches"
	if hasUsername {
		ownNote = "no topic line under " + section + " matches"
		if _, ok := a.users[username]; !ok {
			ownNote = "there is no user line for " + strconv.Quote(username)
		}
	}
	if len(a.patterns.deny) == 0 && len(a.patterns.allow) == 0 {
		return broker.Decision{Reason: ownNote + " and the file has no pattern lines, so access is denied"}
	}
	if !a.patternsApply(username, hasUsername, clientID) {
		return broker.Decision{Reason: ownNote + ", and a username or client id containing '+' or '#' is refused before the patterns are checked"}
	}
	for i := range a.patterns.deny {
		if p := &a.patterns.deny[i]; (hasUsername || !p.user) && p.matches(clientID, username, name) {
			return broker.Decision{Rule: p.text("pattern"), Section: "patterns",
				Reason: ownNote + "; the deny pattern, as " + strconv.Quote(p.expand(clientID, username)) + ", matches " + strconv.Quote(name)}
		}
	}
	for i := range a.patterns.allow {
		p := &a.patterns.allow[i]
		if p.access&acc != 0 && (hasUsername || !p.user) && p.matches(clientID, username, name) {
			return broker.Decision{Allowed: true, Rule: p.text("pattern"), Section: "patterns",
				Reason: ownNote + "; the pattern, as " + strconv.Quote(p.expand(clientID, username)) + ", grants " + acc.String() + " on " + strconv.Quote(name)}
		}
	}
	why := ownNote + " and no pattern grants " + acc.String() + " on " + strconv.Quote(name) + ", so access is denied"
	if !hasUsername {
		why += " (patterns with %u never apply to a client without a username)"
	}
	return broker.Decision{Reason: why}
}

// text returns the rule as a line of the file: "topic read a/b".
func (r *rule) text(kind string) string {
	access := "deny"
	switch r.access {
	case broker.Read:
		access = "read"
	case broker.Write:
		access = "write"
	case broker.Read | broker.Write:
		access = "readwrite"
	}
	return kind + " " + access + " " + r.filter
}
