package topic

import "strings"

// This file holds the filters of Mosquitto's ACL files: their validation as
// Mosquitto's broker validates them, the substitution of %c and %u in
// "pattern" lines, and the algebra of filters that tells whether a
// subscription could ever be granted. The matcher here, matchParts, is the
// one Match uses: it matches a filter made of several pieces (a pattern's text
// with the client id and user name in between) without building the string,
// so an ACL check allocates nothing.

// hierarchyLimit is the most '/' a filter of an ACL file may have, as in
// Mosquitto's broker build of mosquitto_sub_topic_check.
const hierarchyLimit = 200

// ValidACLFilter reports whether s is a topic filter Mosquitto accepts in an
// ACL file (its broker build of mosquitto_sub_topic_check): '+' and '#' fill
// a whole level [MQTT-4.7.1-2] [MQTT-4.7.1-3], '#' is the last level, at most
// MaxLen bytes [MQTT-4.7.3-3] and 200 '/'. Unlike ValidFilter it does not
// check the encoding, and "$share/" is not special.
func ValidACLFilter(s string) bool {
	return len(s) <= MaxLen && strings.Count(s, "/") <= hierarchyLimit && wildcardsPlaced(s)
}

// wildcardsPlaced reports whether every '+' of s is a whole level and every
// '#' the whole last level.
func wildcardsPlaced(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+':
			if (i > 0 && s[i-1] != '/') || (i+1 < len(s) && s[i+1] != '/') {
				return false // [MQTT-4.7.1-3]
			}
		case '#':
			if (i > 0 && s[i-1] != '/') || i+1 != len(s) {
				return false // [MQTT-4.7.1-2]
			}
		}
	}
	return true
}

// Pattern is the filter of an ACL file's "pattern" line: a topic filter in
// which %c stands for the client id and %u for the user name, replaced as
// Mosquitto replaces them, scanning left to right ("%%c" is a '%' then the
// client id). The zero Pattern matches nothing. A Pattern is immutable.
type Pattern struct {
	// parts is the filter cut at %c and %u: the text between them, and
	// vars[k] ('c' or 'u') between parts[k] and parts[k+1].
	parts []string
	vars  []byte
}

// ParsePattern cuts p at each %c and %u.
func ParsePattern(p string) Pattern { return parsePattern(p, false) }

// ParseLevelPattern is ParsePattern for Mosquitto 2.1's patterns
// (mosquitto_topic_matches_sub_with_pattern, used by dynamic security):
// only a level that is exactly %c or %u stands for the client id or user
// name; a %c or %u inside a longer level ("a/x%cy") is plain text.
func ParseLevelPattern(p string) Pattern { return parsePattern(p, true) }

// parsePattern cuts p at each %c and %u, or with wholeLevel only at those
// that are a whole level.
func parsePattern(p string, wholeLevel bool) Pattern {
	var pt Pattern
	start := 0
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && (p[i+1] == 'c' || p[i+1] == 'u') &&
			(!wholeLevel || (i == 0 || p[i-1] == '/') && (i+2 == len(p) || p[i+2] == '/')) {
			pt.parts = append(pt.parts, p[start:i])
			pt.vars = append(pt.vars, p[i+1])
			start = i + 2
			i++
		}
	}
	pt.parts = append(pt.parts, p[start:])
	return pt
}

// HasClientID reports whether the pattern has %c.
func (p *Pattern) HasClientID() bool {
	for _, v := range p.vars {
		if v == 'c' {
			return true
		}
	}
	return false
}

// HasUsername reports whether the pattern has %u.
func (p *Pattern) HasUsername() bool {
	for _, v := range p.vars {
		if v == 'u' {
			return true
		}
	}
	return false
}

// Match reports whether the pattern, with clientID and username put in,
// matches the topic name as Match does. It allocates nothing unless the
// pattern has more than four substitutions.
func (p *Pattern) Match(clientID, username, name string) bool {
	if len(p.parts) == 0 {
		return false
	}
	var buf [9]string
	segs := buf[:0]
	for k, part := range p.parts {
		if k > 0 {
			if p.vars[k-1] == 'c' {
				segs = append(segs, clientID)
			} else {
				segs = append(segs, username)
			}
		}
		segs = append(segs, part)
	}
	return matchParts(segs, name)
}

// Expand returns the pattern with clientID and username put in.
func (p *Pattern) Expand(clientID, username string) string {
	var b strings.Builder
	for k, part := range p.parts {
		if k > 0 {
			if p.vars[k-1] == 'c' {
				b.WriteString(clientID)
			} else {
				b.WriteString(username)
			}
		}
		b.WriteString(part)
	}
	return b.String()
}

// partReader reads the concatenation of parts one byte at a time.
type partReader struct {
	parts []string
	i, j  int // byte j of parts[i]
}

func (r *partReader) done() bool {
	for r.i < len(r.parts) && r.j >= len(r.parts[r.i]) {
		r.i++
		r.j = 0
	}
	return r.i >= len(r.parts)
}

// peek returns the next byte. r must not be done.
func (r *partReader) peek() byte { return r.parts[r.i][r.j] }

func (r *partReader) next() { r.j++ }

// restIs reports whether what is left to read is exactly s.
func (r *partReader) restIs(s string) bool {
	for k := 0; k < len(s); k++ {
		if r.done() || r.peek() != s[k] {
			return false
		}
		r.next()
	}
	return r.done()
}

// matchParts is Match for the filter that is the concatenation of parts.
func matchParts(parts []string, name string) bool {
	f := partReader{parts: parts}
	if name == "" || f.done() || strings.ContainsAny(name, "+#") {
		return false
	}
	if (f.peek() == '$') != (name[0] == '$') {
		return false // [MQTT-4.7.2-1]
	}
	t := 0 // start of the current name level
	for {
		// At the start of a level in both.
		switch f.peek() {
		case '#':
			return true
		case '+':
			f.next()
			if k := strings.IndexByte(name[t:], '/'); k >= 0 {
				t += k
			} else {
				t = len(name)
			}
		default:
			for !f.done() && f.peek() != '/' {
				if t == len(name) || name[t] != f.peek() {
					return false
				}
				t++
				f.next()
			}
			if t < len(name) && name[t] != '/' {
				return false
			}
		}
		// At the end of a level in both.
		fEnd, tEnd := f.done(), t == len(name)
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
		t++ // the name's '/': another level, maybe empty, follows
		if f.done() {
			// The filter ends in '/': it matches only an empty last level.
			return t == len(name)
		}
	}
}

// Meet returns the filter that matches exactly the topic names both filters
// a and b match, and false if there are none. The filters are given as
// their levels (strings.Split(filter, "/")) and must be valid.
func Meet(a, b []string) ([]string, bool) {
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

// Covers reports whether filter d matches every topic name filter m matches
// (both as levels, as for Meet, and valid).
func Covers(d, m []string) bool {
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
