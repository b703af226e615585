package topic

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxLen is the maximum length in bytes of a topic name or topic filter,
// including any "$share/{ShareName}/" prefix [MQTT-4.7.3-3].
const MaxLen = 65535

// MaxSlashes is the most '/' separators a topic name or filter may have, so
// it has at most 201 levels: Mosquitto (Debian's 2.0.11 and 2.1 alike)
// counts the separators of a name (in PUBLISH and in a will) or a filter (in
// SUBSCRIBE and UNSUBSCRIBE, "$share/{ShareName}/" included) and refuses
// more than 200 (TOPIC_HIERARCHY_LIMIT, lib/util_topic.c), a bound on the
// work and memory one topic costs.
const MaxSlashes = 200

// SharePrefix starts every shared-subscription filter (MQTT 5.0 §4.8.2).
const SharePrefix = "$share/"

// SysPrefix starts the topics of the broker's $SYS tree; a name that
// starts with it is never stored (Mosquitto's persistence compares these
// four bytes).
const SysPrefix = "$SYS"

// IsSys reports whether name is in the $SYS tree ("$SYS" or under
// "$SYS/"), which clients may not publish to.
func IsSys(name string) bool {
	return name == SysPrefix || strings.HasPrefix(name, SysPrefix+"/")
}

// SysWritable reports whether a client may publish to name although it
// starts with "$SYS": only a name $SYS/broker/connection/+/state matches
// (the '+' any one level, the empty one too), a bridge's notification of its
// state, which Mosquitto accepts from every client (acl__check_dollar).
func SysWritable(name string) bool {
	rest, ok := strings.CutPrefix(name, SysPrefix+"/broker/connection/")
	if !ok {
		return false
	}
	id, ok := strings.CutSuffix(rest, "/state")
	return ok && !strings.Contains(id, "/")
}

// SysWriteDenied reports whether a client may not publish to name because
// it starts with "$SYS", as Mosquitto compares the first four bytes (so
// "$SYSTEM/a" too), and is not SysWritable. Whatever it allows is still up
// to the authorizers, where an ACL's '#' does not match a '$' topic.
func SysWriteDenied(name string) bool {
	return strings.HasPrefix(name, SysPrefix) && !SysWritable(name)
}

// ControlPrefix starts every control topic: Mosquitto's request/response
// endpoints ($CONTROL/dynamic-security/v1, $CONTROL/broker/v1).
const ControlPrefix = "$CONTROL/"

// IsControl reports whether name is under ControlPrefix.
func IsControl(name string) bool { return strings.HasPrefix(name, ControlPrefix) }

// IsShared reports whether filter is a shared-subscription filter (it
// starts with SharePrefix); [ParseShared] validates it.
func IsShared(filter string) bool { return strings.HasPrefix(filter, SharePrefix) }

// Errors returned by [ValidName], [ValidFilter], [ParseShared] and
// [Index.Subscribe]. Each is a distinct sentinel: compare with errors.Is. The
// broker closes the connection for all of them, as Mosquitto does: an MQTT 5
// client first gets DISCONNECT 0x82 Protocol Error (a name in PUBLISH) or
// 0x81 Malformed Packet (a filter), a 3.1.1 client nothing.
var (
	// ErrEmpty is returned for an empty name or filter [MQTT-4.7.3-1].
	ErrEmpty = errors.New("topic: empty topic name or filter")

	// ErrTooLong is returned for a name or filter longer than MaxLen bytes
	// [MQTT-4.7.3-3].
	ErrTooLong = errors.New("topic: longer than 65535 bytes")

	// ErrBadUTF8 is returned for a name or filter that is not well-formed
	// UTF-8, including encoded UTF-16 surrogates and overlong encodings
	// ([MQTT-1.5.3-1] in 3.1.1, [MQTT-1.5.4-1] in 5.0).
	ErrBadUTF8 = errors.New("topic: not valid UTF-8")

	// ErrNull is returned for a name or filter that contains U+0000
	// [MQTT-4.7.3-2] ([MQTT-1.5.3-2] in 3.1.1, [MQTT-1.5.4-2] in 5.0).
	ErrNull = errors.New("topic: contains U+0000")

	// ErrWildcardInName is returned for a topic name that contains '+' or
	// '#' [MQTT-4.7.1-1].
	ErrWildcardInName = errors.New("topic: wildcard in topic name")

	// ErrBadWildcard is returned for a filter with a '+' that is not a whole
	// level [MQTT-4.7.1-3], or a '#' that is not the whole last level
	// [MQTT-4.7.1-2].
	ErrBadWildcard = errors.New("topic: wildcard is not a whole level or '#' is not last")

	// ErrTooDeep is returned for a name or filter with more than MaxSlashes
	// '/' separators, which Mosquitto refuses (TOPIC_HIERARCHY_LIMIT).
	ErrTooDeep = errors.New("topic: more than 200 '/' separators")

	// ErrBadShare is returned for a filter that starts with "$share/" but
	// has an empty ShareName, a ShareName containing '+' or '#', or no topic
	// filter after the ShareName [MQTT-4.8.2-1] [MQTT-4.8.2-2].
	ErrBadShare = errors.New("topic: malformed shared subscription")
)

// ValidName reports whether name is a valid topic name for a PUBLISH or a
// will: non-empty [MQTT-4.7.3-1], at most MaxLen bytes [MQTT-4.7.3-3],
// well-formed UTF-8 without U+0000 [MQTT-4.7.3-2], and free of wildcards
// [MQTT-4.7.1-1], with at most MaxSlashes '/' (Mosquitto's limit). It
// returns nil or one of ErrEmpty, ErrTooLong, ErrBadUTF8, ErrNull,
// ErrWildcardInName or ErrTooDeep.
//
// Names that start with '$' are valid here; whether a client may publish to
// them is the broker's policy. Control characters and Unicode non-characters,
// which the specification says SHOULD NOT appear ([MQTT-1.5.4] in 5.0), are
// accepted.
func ValidName(name string) error {
	if err := validText(name, true); err != nil {
		return err
	}
	return validDepth(name)
}

// validDepth returns ErrTooDeep if s has more than MaxSlashes separators.
func validDepth(s string) error {
	if strings.Count(s, "/") > MaxSlashes {
		return ErrTooDeep
	}
	return nil
}

// ValidFilter reports whether filter is a valid topic filter for a SUBSCRIBE
// or UNSUBSCRIBE: non-empty [MQTT-4.7.3-1], at most MaxLen bytes
// [MQTT-4.7.3-3], well-formed UTF-8 without U+0000 [MQTT-4.7.3-2], with '+'
// only as a whole level [MQTT-4.7.1-3] and '#' only as the whole last level
// [MQTT-4.7.1-2]. A filter starting with "$share/" must also be a valid shared
// subscription; see ParseShared. It may have at most MaxSlashes '/', the
// shared prefix's included (Mosquitto's limit). It returns nil or one of
// ErrEmpty, ErrTooLong, ErrBadUTF8, ErrNull, ErrBadWildcard, ErrBadShare or
// ErrTooDeep.
func ValidFilter(filter string) error {
	var err error
	if strings.HasPrefix(filter, SharePrefix) {
		_, _, _, err = ParseShared(filter)
	} else {
		err = validPlain(filter)
	}
	if err != nil {
		return err
	}
	return validDepth(filter)
}

// validPlain validates filter as a filter without any $share prefix.
func validPlain(filter string) error {
	if err := validText(filter, false); err != nil {
		return err
	}
	if !wildcardsPlaced(filter) {
		return ErrBadWildcard // [MQTT-4.7.1-2] [MQTT-4.7.1-3]
	}
	return nil
}

// validText checks what topic names and filters have in common: s is not
// empty, at most MaxLen bytes long and well-formed UTF-8 without U+0000.
// With noWildcards, a '+' or '#' is ErrWildcardInName. The first fault in
// s decides the error.
func validText(s string, noWildcards bool) error {
	if s == "" {
		return ErrEmpty // [MQTT-4.7.3-1]
	}
	if len(s) > MaxLen {
		return ErrTooLong // [MQTT-4.7.3-3]
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
				return ErrNull // [MQTT-4.7.3-2]
			case noWildcards && (c == '+' || c == '#'):
				return ErrWildcardInName // [MQTT-4.7.1-1]
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return ErrBadUTF8 // [MQTT-1.5.4-1]; surrogates are rejected by the decoder
		}
		i += size
	}
	return nil
}

// ParseShared splits a shared-subscription filter "$share/{ShareName}/{filter}"
// into its ShareName (group) and topic filter (inner), and validates both.
//
// If filter does not start with "$share/" it is not shared: ParseShared
// returns "", filter, false, nil without validating it. Otherwise shared is
// true and err is nil only if the whole filter is at most MaxLen bytes, the
// ShareName is at least one character [MQTT-4.8.2-1] and contains no '/', '+'
// or '#' [MQTT-4.8.2-2], is followed by '/' and a non-empty topic filter
// [MQTT-4.8.2-2], and that filter is valid as ValidFilter defines it. The
// inner filter is validated as a plain filter: "$share/a/$share/b/c" is group
// "a" on the filter "$share/b/c". On error group and inner are empty and the
// error is ErrBadShare, or the error the inner filter or ShareName fails with
// (ErrBadWildcard, ErrBadUTF8, ErrNull, ErrTooLong), or ErrTooDeep for more
// than 200 '/' in the whole filter, prefix included.
//
// group and inner are substrings of filter.
func ParseShared(filter string) (group, inner string, shared bool, err error) {
	if !strings.HasPrefix(filter, SharePrefix) {
		return "", filter, false, nil
	}
	if len(filter) > MaxLen {
		return "", "", true, ErrTooLong // [MQTT-4.7.3-3]
	}
	rest := filter[len(SharePrefix):]
	group, inner, ok := strings.Cut(rest, "/")
	if !ok || group == "" || inner == "" {
		return "", "", true, ErrBadShare // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
	}
	if strings.ContainsAny(group, "+#") {
		return "", "", true, ErrBadShare // [MQTT-4.8.2-2]
	}
	if strings.IndexByte(group, 0) >= 0 {
		return "", "", true, ErrNull // [MQTT-4.7.3-2]
	}
	if !utf8.ValidString(group) {
		return "", "", true, ErrBadUTF8 // [MQTT-1.5.4-1]
	}
	if err := validPlain(inner); err != nil {
		return "", "", true, err
	}
	if err := validDepth(filter); err != nil {
		return "", "", true, err // the prefix counts, as in Mosquitto 2.1
	}
	return group, inner, true, nil
}

// Levels returns the number of levels in a topic name or filter: one more
// than the number of '/' separators, so "a", "/" and "a/b/#" have 1, 2 and 3
// levels. It counts s as given; pass the inner filter of a shared
// subscription to count only its topic levels. The broker uses it to enforce a
// limit on topic depth.
func Levels(s string) int {
	return strings.Count(s, "/") + 1
}
