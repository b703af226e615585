package auth

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/topic"
)

// ACL is a parsed Mosquitto ACL file. It is immutable and safe for concurrent
// use.
//
// The file has these lines ("#" starts a comment only as a line's first byte;
// words are separated by spaces, not tabs):
//
//	user NAME                    the topic lines below apply to the client with username NAME
//	topic [ACCESS] FILTER        a rule for the current user, or for clients
//	                             without a username if no user line came before
//	pattern [ACCESS] FILTER      a rule for every client, where %c in FILTER
//	                             stands for the client id and %u for the username
//
// ACCESS is read, write, readwrite (the default) or deny. Allowed decides as
// Mosquitto 2.0 does:
//
//  1. The client's own rules: those under "user NAME" for its username, or the
//     topic lines before the first user line if it has no username (a client
//     whose username has no user line has no own rules). A matching deny rule
//     refuses; else a matching rule that grants the access allows.
//  2. If there are pattern lines and the username or client id contains '+' or
//     '#', the access is refused (a '/' is allowed, and %c or %u then spans
//     levels, as in Mosquitto).
//  3. The patterns, with %c and %u replaced wherever they appear (patterns
//     with %u are skipped for a client without a username): a matching deny
//     pattern refuses, else a matching pattern that grants the access allows.
//  4. Otherwise the access is refused; so is everything when the file has no
//     rules.
//
// A filter whose first character is not '$' does not match topics that start
// with '$': "#" does not grant "$SYS/...". So a deny rule refuses only within
// its stage: the client's own allow rule wins over a deny pattern.
type ACL struct {
	anon     ruleSet            // topic lines before the first user line
	users    map[string]ruleSet // topic lines under "user NAME"
	patterns ruleSet
}

// ruleSet is a list of rules with its deny rules apart, since Mosquitto
// checks every deny rule of a list before its other rules.
type ruleSet struct {
	deny, allow []rule
}

// rule is one topic or pattern line.
type rule struct {
	filter  string        // as written
	access  broker.Access // Read|Write; 0 for deny
	pattern topic.Pattern // a pattern line's filter, with %c and %u
	user    bool          // the pattern has %u
}

// LoadACLFile reads and parses the ACL file at path. See ParseACL.
func LoadACLFile(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseACL(f, path)
}

// ParseACL parses an ACL file read from r; name is used in errors. It accepts
// exactly what Mosquitto 2.0's aclfile__parse accepts: trailing blanks are
// ignored, a line whose first byte is '#' is a comment, and a line that is not
// blank must start (after spaces) with "topic", "pattern" or "user". A line
// Mosquitto refuses to start with is a *SyntaxError: an unknown first word, a
// topic or pattern line without a filter, an unknown access, an invalid
// filter, a user line without a name.
func ParseACL(r io.Reader, name string) (*ACL, error) {
	a := &ACL{users: make(map[string]ruleSet)}
	user, haveUser := "", false
	err := lines(r, name, func(n int, line string) error {
		bad := func(format string, args ...any) error {
			return &SyntaxError{File: name, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		line = strings.TrimRightFunc(line, isSpace)
		if line == "" || line[0] == '#' {
			return nil
		}
		word, rest := spaceToken(line)
		switch word {
		case "":
			return nil
		case "topic", "pattern":
			access, rest := spaceToken(rest)
			if access == "" {
				return bad("%s line without a topic filter", word)
			}
			// strtok's remainder starts after the one space that ended
			// access; a line of two words has the second as its filter.
			filter := trimBlanks(rest)
			if rest == "" {
				filter, access = access, "readwrite"
			}
			r := rule{filter: filter}
			switch access {
			case "read":
				r.access = broker.Read
			case "write":
				r.access = broker.Write
			case "readwrite":
				r.access = broker.Read | broker.Write
			case "deny":
			default:
				return bad("invalid access %q (want read, write, readwrite or deny)", access)
			}
			if !topic.ValidACLFilter(filter) {
				return bad("invalid topic filter %q", filter)
			}
			if word == "topic" {
				set := a.anon
				if haveUser {
					set = a.users[user]
				}
				set.add(r)
				if haveUser {
					a.users[user] = set
				} else {
					a.anon = set
				}
				return nil
			}
			r.pattern = topic.ParsePattern(filter)
			r.user = r.pattern.HasUsername()
			a.patterns.add(r)
			return nil
		case "user":
			if rest == "" {
				return bad("user line without a username")
			}
			user, haveUser = trimBlanks(rest), true
			return nil
		}
		return bad("unknown keyword %q (want topic, pattern or user)", word)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// spaceToken returns the first run of non-space bytes of s and what follows
// the space after it, as strtok(s, " ") then strtok(NULL, "") do. Only ' '
// separates: a tab is part of a word, as in Mosquitto.
func spaceToken(s string) (word, rest string) {
	s = strings.TrimLeft(s, " ")
	word, rest, _ = strings.Cut(s, " ")
	return word, rest
}

func (s *ruleSet) add(r rule) {
	if r.access == 0 {
		s.deny = append(s.deny, r)
	} else {
		s.allow = append(s.allow, r)
	}
}

// Allowed reports whether a client may read (receive) or write (publish) a
// message with topic name name, or subscribe or unsubscribe (acc
// broker.Subscribe or broker.Unsubscribe, always true as in Mosquitto 2.0). hasUsername is false for a client that connected without
// a username. It allocates nothing unless a pattern has more than four
// substitutions.
func (a *ACL) Allowed(username string, hasUsername bool, clientID, name string, acc broker.Access) bool {
	switch acc {
	case broker.Read, broker.Write:
	case broker.Subscribe, broker.Unsubscribe:
		return true
	default:
		return false
	}
	own := a.anon
	if hasUsername {
		own = a.users[username]
	}
	for i := range own.deny {
		if topic.Match(own.deny[i].filter, name) {
			return false
		}
	}
	for i := range own.allow {
		if own.allow[i].access&acc != 0 && topic.Match(own.allow[i].filter, name) {
			return true
		}
	}
	if !a.patternsApply(username, hasUsername, clientID) {
		return false
	}
	for i := range a.patterns.deny {
		if p := &a.patterns.deny[i]; (hasUsername || !p.user) && p.matches(clientID, username, name) {
			return false
		}
	}
	for i := range a.patterns.allow {
		p := &a.patterns.allow[i]
		if p.access&acc != 0 && (hasUsername || !p.user) && p.matches(clientID, username, name) {
			return true
		}
	}
	return false
}

// patternsApply reports whether the patterns are looked at for this client:
// there are some, and neither the username nor the client id contains '+' or
// '#' (Mosquitto refuses such a client outright at this stage).
func (a *ACL) patternsApply(username string, hasUsername bool, clientID string) bool {
	if len(a.patterns.deny) == 0 && len(a.patterns.allow) == 0 {
		return false
	}
	if hasUsername && strings.ContainsAny(username, "+#") {
		return false
	}
	return !strings.ContainsAny(clientID, "+#")
}

// matches reports whether the pattern, with the client id and username put
// in, matches topic.
func (p *rule) matches(clientID, username, name string) bool {
	return p.pattern.Match(clientID, username, name)
}

// expand returns the pattern with the client id and username put in.
func (p *rule) expand(clientID, username string) string {
	return p.pattern.Expand(clientID, username)
}

// CanEverRead reports whether a subscription to filter could ever deliver a
// message to the client: whether some topic that filter matches is one
// Allowed would let it read. It is for refusing, at SUBSCRIBE time, a filter
// that can never deliver anything (midge's acl_check_subscribe); Mosquitto
// itself grants every subscription and checks each delivery.
//
// The answer errs towards true: a topic counts as denied only if a single
// deny rule covers everything the allowing rule and the filter have in
// common, not if several deny rules together do. Since each delivery is
// still checked with Allowed, a true answer never leaks a message. filter is
// the filter as matched, without a shared subscription's "$share/NAME/"
// prefix. An invalid filter gives false.
func (a *ACL) CanEverRead(username string, hasUsername bool, clientID, filter string) bool {
	if filter == "" || !topic.ValidACLFilter(filter) {
		return false
	}
	f := strings.Split(filter, "/")
	own := a.anon
	if hasUsername {
		own = a.users[username]
	}
	ownDeny := make([][]string, len(own.deny))
	for i, r := range own.deny {
		ownDeny[i] = strings.Split(r.filter, "/")
	}
	for _, r := range own.allow {
		if r.access&broker.Read == 0 {
			continue
		}
		if m, ok := topic.Meet(f, strings.Split(r.filter, "/")); ok && !coveredByAny(m, ownDeny) {
			return true
		}
	}
	if !a.patternsApply(username, hasUsername, clientID) {
		return false
	}
	deny := ownDeny
	for _, p := range a.patterns.deny {
		if hasUsername || !p.user {
			deny = append(deny, strings.Split(p.expand(clientID, username), "/"))
		}
	}
	for _, p := range a.patterns.allow {
		if p.access&broker.Read == 0 || (!hasUsername && p.user) {
			continue
		}
		if m, ok := topic.Meet(f, strings.Split(p.expand(clientID, username), "/")); ok && !coveredByAny(m, deny) {
			return true
		}
	}
	return false
}

// coveredByAny reports whether one of the filters in ds matches every topic m
// matches.
func coveredByAny(m []string, ds [][]string) bool {
	for _, d := range ds {
		if topic.Covers(d, m) {
			return true
		}
	}
	return false
}
