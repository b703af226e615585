package auth

import "strings"

// This file is a small topic matcher with Mosquitto's rules. internal/topic is
// being written alongside this package; once it lands, matchFilter and
// validFilter can switch to topic.Match and topic.ValidFilter. The pattern
// matching (matchSegs) must stay: it matches a filter made of several pieces
// (the pattern's text with the client id and username in between) without
// building the string, so an ACL check allocates nothing.

// topicHierarchyLimit is the most '/' an ACL topic may have, as in
// Mosquitto's broker build of mosquitto_sub_topic_check.
const topicHierarchyLimit = 200

// validFilter reports whether s is a topic filter Mosquitto's
// mosquitto_sub_topic_check accepts: '+' and '#' fill a whole level, '#' is
// the last level, at most 65,535 bytes and 200 '/'.
func validFilter(s string) bool {
	if len(s) > 65535 || strings.Count(s, "/") > topicHierarchyLimit {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			if (i > 0 && s[i-1] != '/') || (i+1 < len(s) && s[i+1] != '/') {
				return false
			}
		case '#':
			if (i > 0 && s[i-1] != '/') || i+1 != len(s) {
				return false
			}
		}
	}
	return true
}

// matchFilter reports whether topic (a topic name) matches filter, as
// mosquitto_topic_matches_sub does: '+' matches one level (which may be
// empty), '#' matches any number of levels including none ("a/#" matches
// "a"), and a filter whose first character is not '$' never matches a topic
// whose first character is, nor the other way round. filter must be valid; a
// topic containing '+' or '#' matches nothing.
func matchFilter(filter, topic string) bool {
	segs := [1]string{filter}
	return matchSegs(segs[:], topic)
}

// segReader reads the concatenation of segs one byte at a time.
type segReader struct {
	segs []string
	i, j int // byte j of segs[i]
}

func (r *segReader) done() bool {
	for r.i < len(r.segs) && r.j >= len(r.segs[r.i]) {
		r.i++
		r.j = 0
	}
	return r.i >= len(r.segs)
}

// peek returns the next byte. r must not be done.
func (r *segReader) peek() byte { return r.segs[r.i][r.j] }

func (r *segReader) next() { r.j++ }

// restIs reports whether what is left to read is exactly s.
func (r *segReader) restIs(s string) bool {
	for k := 0; k < len(s); k++ {
		if r.done() || r.peek() != s[k] {
			return false
		}
		r.next()
	}
	return r.done()
}

// matchSegs is matchFilter for the filter that is the concatenation of segs.
// The filter must be valid once concatenated.
func matchSegs(segs []string, topic string) bool {
	f := segReader{segs: segs}
	if topic == "" || f.done() || strings.ContainsAny(topic, "+#") {
		return false
	}
	if (f.peek() == '$') != (topic[0] == '$') {
		return false
	}
	t := 0 // start of the current topic level
	for {
		// At the start of a level in both.
		switch f.peek() {
		case '#':
			return true
		case '+':
			f.next()
			if k := strings.IndexByte(topic[t:], '/'); k >= 0 {
				t += k
			} else {
				t = len(topic)
			}
		default:
			for !f.done() && f.peek() != '/' {
				if t == len(topic) || topic[t] != f.peek() {
					return false
				}
				t++
				f.next()
			}
			if t < len(topic) && topic[t] != '/' {
				return false
			}
		}
		// At the end of a level in both.
		fEnd, tEnd := f.done(), t == len(topic)
		switch {
		case fEnd && tEnd:
			return true
		case fEnd:
			return false
		}
		f.next() // the filter's '/'
		if tEnd {
			// "a/#" and "a/+/#" match "a" and "a/b" respectively.
			return f.restIs("#")
		}
		t++ // the topic's '/': another level, maybe empty, follows
		if f.done() {
			// The filter ends in '/': it matches only an empty last level.
			return t == len(topic)
		}
	}
}

// levels splits a filter into its levels.
func levels(filter string) []string { return strings.Split(filter, "/") }

// meet returns the filter that matches exactly the topics both a and b match
// (as levels), and false if there are none. Both must be valid.
func meet(a, b []string) ([]string, bool) {
	out := make([]string, 0, max(len(a), len(b)))
	for i := 0; ; i++ {
		aEnd, bEnd := i == len(a), i == len(b)
		aHash, bHash := !aEnd && a[i] == "#", !bEnd && b[i] == "#"
		switch {
		case aHash && bHash:
			return append(out, "#"), true
		case aHash:
			// a matches every topic of at least i levels from here on, but
			// a wildcard first level never matches a '$' topic.
			if i == 0 && strings.HasPrefix(b[0], "$") {
				return nil, false
			}
			return append(out, b[i:]...), true
		case bHash:
			if i == 0 && strings.HasPrefix(a[0], "$") {
				return nil, false
			}
			return append(out, a[i:]...), true
		case aEnd && bEnd:
			return out, true
		case aEnd || bEnd:
			return nil, false
		}
		switch x, y := a[i], b[i]; {
		case x == y:
			out = append(out, x)
		case x == "+":
			if i == 0 && strings.HasPrefix(y, "$") {
				return nil, false
			}
			out = append(out, y)
		case y == "+":
			if i == 0 && strings.HasPrefix(x, "$") {
				return nil, false
			}
			out = append(out, x)
		default:
			return nil, false
		}
	}
}

// covers reports whether filter d matches every topic filter m matches (both
// as levels, both valid).
func covers(d, m []string) bool {
	if m[0] == "#" {
		// A topic has at least one level, so "#" matches what "+/#" does.
		m = []string{"+", "#"}
	}
	for i := 0; ; i++ {
		dEnd, mEnd := i == len(d), i == len(m)
		if !dEnd && d[i] == "#" {
			// Every topic m matches has at least i levels and matches d's
			// levels so far; only '$' topics can escape a first-level '#'.
			return i > 0 || !strings.HasPrefix(m[0], "$")
		}
		switch {
		case dEnd && mEnd:
			return true
		case dEnd || mEnd:
			return false
		case m[i] == "#":
			// m matches topics of i levels and of more; d, with no '#' here,
			// cannot match both.
			return false
		case d[i] == "+":
			if i == 0 && strings.HasPrefix(m[0], "$") {
				return false
			}
		case d[i] != m[i]:
			return false
		}
	}
}
