package topic

import "strings"

// Match reports whether the topic filter matches the topic name. It is the
// reference matcher that Index and Retained agree with, the one ACL files
// (Pattern) use, and it does not allocate.
//
// '+' matches exactly one level, which may be empty [MQTT-4.7.1-3]; '#'
// matches the level it stands for, any levels below it, and also the parent
// level, so "a/#" matches "a" [MQTT-4.7.1-2]. A filter that starts with '+' or
// '#' does not match a name that starts with '$' [MQTT-4.7.2-1], nor does a
// filter that starts with '$' match a name that does not. Comparison is byte
// for byte [MQTT-4.7.3-4].
//
// filter is matched as a plain filter: a "$share/" prefix is compared
// literally, so pass the inner filter returned by ParseShared. A name
// containing '+' or '#' matches nothing. The result for an invalid filter is
// unspecified, but Match does not panic on any input and reports false if
// either is empty.
func Match(filter, name string) bool {
	parts := [1]string{filter}
	return matchParts(parts[:], name)
}

// cut returns the first level of s, the rest after the '/' that ends it, and
// whether there was such a '/'.
func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
