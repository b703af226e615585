package topic

import (
	"strings"
	"testing"
)

func TestMatchFilter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+", "a/b", true},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"a/+", "a/b/c", false},
		{"+/+", "/", true},
		{"+", "", false},
		{"+/b", "/b", true},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/+/#", "a/b", true},
		{"a/+/#", "a", false},
		{"#", "a/b", true},
		{"#", "/", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"+", "$SYS", false},
		{"$SYS/#", "$SYS/x", true},
		{"$SYS/#", "$SYS", true},
		{"$SYS/+", "$SYS/x", true},
		{"$SYS/x", "SYS/x", false},
		{"a/b", "$a/b", false},
		{"a//b", "a//b", true},
		{"a//b", "a/b", false},
		{"a/", "a/", true},
		{"a/", "a", false},
		{"a/", "a/b", false},
		{"a", "a/", false},
		{"a/b", "a/+", false}, // a topic with a wildcard matches nothing
		{"a/#", "a/#", false},
	} {
		if got := Match(tc.filter, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestMatchSegs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		segs  []string
		topic string
		want  bool
	}{
		{[]string{"c/", "a/b", "/#"}, "c/a/b/x", true},
		{[]string{"c/", "a/b", "/#"}, "c/a/x", false},
		{[]string{"pre", "Z", "post/y"}, "preZpost/y", true},
		{[]string{"", "", "a"}, "a", true},
		{[]string{"", "$x", "/#"}, "$x/1", true},
		{[]string{"+/", "", "x"}, "a/x", true},
		{[]string{"a", "", ""}, "a", true},
		{[]string{"", ""}, "a", false},
	} {
		if got := matchParts(tc.segs, tc.topic); got != tc.want {
			t.Errorf("matchParts(%q, %q) = %v, want %v", tc.segs, tc.topic, got, tc.want)
		}
	}
}

func TestValidFilter(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"a", "#", "+", "a/+/b", "a/#", "+/+", "/", "a//b", "$SYS/#", "%c/#", "a b", strings.Repeat("a/", 200) + "a"} {
		if !ValidACLFilter(f) {
			t.Errorf("ValidACLFilter(%q) = false", f)
		}
	}
	for _, f := range []string{"a#", "#/a", "a/#/b", "a+", "+a", "a/b+/c", "##", "++", strings.Repeat("/", 201), strings.Repeat("x", 65536)} {
		if ValidACLFilter(f) {
			t.Errorf("ValidACLFilter(%q) = true", f)
		}
	}
}

// universe returns every topic of 1 to most levels from alphabet, the
// first level maybe "$s" too; with hash, each also with a final '#' level.
func universe(alphabet []string, most int, hash bool) []string {
	var out []string
	var grow func(prefix []string)
	grow = func(prefix []string) {
		if len(prefix) > 0 {
			out = append(out, strings.Join(prefix, "/"))
			if hash {
				out = append(out, strings.Join(append(prefix, "#"), "/"))
			}
		}
		if len(prefix) == most {
			return
		}
		levels := alphabet
		if len(prefix) == 0 {
			levels = append(alphabet[:len(alphabet):len(alphabet)], "$s")
		}
		for _, l := range levels {
			grow(append(prefix[:len(prefix):len(prefix)], l))
		}
	}
	grow(nil)
	return out
}

// meet and covers agree with matchFilter on every topic of a small universe.
func TestMeetAndCoversBruteForce(t *testing.T) {
	t.Parallel()
	// Filters of up to three levels from {a, b, +} (the first may also be
	// "$s"), with or without a final '#'.
	filters := append(universe([]string{"a", "b", "+"}, 3, true), "#")
	// Topics of up to five levels from {a, b, ""}, the first maybe "$s".
	topics := universe([]string{"a", "b", ""}, 5, false)

	for _, x := range filters {
		for _, y := range filters {
			m, ok := Meet(levels(x), levels(y))
			var ms string
			if ok {
				ms = strings.Join(m, "/")
				if !ValidACLFilter(ms) {
					t.Fatalf("meet(%q, %q) = %q, not a valid filter", x, y, ms)
				}
			}
			covered := Covers(levels(x), levels(y))
			for _, topic := range topics {
				both := Match(x, topic) && Match(y, topic)
				if got := ok && Match(ms, topic); got != both {
					t.Fatalf("meet(%q, %q) = %q, %v: on %q it says %v, the filters say %v", x, y, ms, ok, topic, got, both)
				}
				if covered && Match(y, topic) && !Match(x, topic) {
					t.Fatalf("covers(%q, %q) = true, but %q matches only the second", x, y, topic)
				}
			}
			if !covered {
				found := false
				for _, topic := range topics {
					if Match(y, topic) && !Match(x, topic) {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("covers(%q, %q) = false, but every topic %q matches %q matches too", x, y, y, x)
				}
			}
		}
	}
}

// levels splits a filter into its levels.
func levels(filter string) []string { return strings.Split(filter, "/") }
