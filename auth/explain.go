package auth

import "strconv"

// Decision is the outcome of an ACL check and the reason for it, for people
// asking "why may (or may not) this client do that?" (the dashboard's ACL
// tester).
type Decision struct {
	// Allowed is what Allowed returns for the same question.
	Allowed bool
	// Rule is the line that decided, as "topic ACCESS FILTER" or "pattern
	// ACCESS FILTER" ("topic readwrite home/#"); "" when no line decided
	// (nothing matched, or the client was refused before the patterns).
	Rule string
	// Section says where Rule is: `user "alice"`, "before the first user
	// line" or "patterns"; "" when Rule is.
	Section string
	// Reason explains the outcome in a sentence.
	Reason string
}

// Explain answers the question Allowed answers and says which rule decided
// and why. Decision.Allowed always equals Allowed's result. It is slower than
// Allowed (it builds strings) and meant for people, not the publish path.
func (a *ACL) Explain(username string, hasUsername bool, clientID, topic string, acc Access) Decision {
	switch acc {
	case Read, Write:
	case Subscribe:
		return Decision{Allowed: true, Reason: "Mosquitto's ACL file grants every subscription; each message is checked for read access as it is delivered"}
	default:
		return Decision{Reason: "unknown access " + acc.String()}
	}
	own, section := a.anon, "before the first user line"
	if hasUsername {
		own, section = a.users[username], "user "+strconv.Quote(username)
	}
	for i := range own.deny {
		if r := &own.deny[i]; matchFilter(r.filter, topic) {
			return Decision{Rule: r.text("topic"), Section: section,
				Reason: "the client's own deny rule " + strconv.Quote(r.filter) + " matches " + strconv.Quote(topic)}
		}
	}
	for i := range own.allow {
		if r := &own.allow[i]; r.access&acc != 0 && matchFilter(r.filter, topic) {
			return Decision{Allowed: true, Rule: r.text("topic"), Section: section,
				Reason: "the client's own rule " + strconv.Quote(r.filter) + " grants " + acc.String() + " on " + strconv.Quote(topic)}
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
		return Decision{Reason: ownNote + " and the file has no pattern lines, so access is denied"}
	}
	if !a.patternsApply(username, hasUsername, clientID) {
		return Decision{Reason: ownNote + ", and a username or client id containing '+' or '#' is refused before the patterns are checked"}
	}
	for i := range a.patterns.deny {
		if p := &a.patterns.deny[i]; (hasUsername || !p.user) && p.matches(clientID, username, topic) {
			return Decision{Rule: p.text("pattern"), Section: "patterns",
				Reason: ownNote + "; the deny pattern, as " + strconv.Quote(p.expand(clientID, username)) + ", matches " + strconv.Quote(topic)}
		}
	}
	for i := range a.patterns.allow {
		p := &a.patterns.allow[i]
		if p.access&acc != 0 && (hasUsername || !p.user) && p.matches(clientID, username, topic) {
			return Decision{Allowed: true, Rule: p.text("pattern"), Section: "patterns",
				Reason: ownNote + "; the pattern, as " + strconv.Quote(p.expand(clientID, username)) + ", grants " + acc.String() + " on " + strconv.Quote(topic)}
		}
	}
	why := ownNote + " and no pattern grants " + acc.String() + " on " + strconv.Quote(topic) + ", so access is denied"
	if !hasUsername {
		why += " (patterns with %u never apply to a client without a username)"
	}
	return Decision{Reason: why}
}

// text returns the rule as a line of the file: "topic read a/b".
func (r *rule) text(kind string) string {
	access := "deny"
	switch r.access {
	case Read:
		access = "read"
	case Write:
		access = "write"
	case Read | Write:
		access = "readwrite"
	}
	return kind + " " + access + " " + r.filter
}
