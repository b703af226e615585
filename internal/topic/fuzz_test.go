package topic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

var sentinels = []error{
	topic.ErrEmpty, topic.ErrTooLong, topic.ErrBadUTF8, topic.ErrNull,
	topic.ErrWildcardInName, topic.ErrBadWildcard, topic.ErrTooDeep, topic.ErrBadShare,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// concrete replaces every wildcard level of a valid plain filter with "x",
// giving a topic name of the same length and depth that the filter matches.
func concrete(filter string) string {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if l == "+" || l == "#" {
			levels[i] = "x"
		}
	}
	return strings.Join(levels, "/")
}

func FuzzValidFilter(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.filter)
		f.Add(tc.name)
	}
	for _, s := range []string{"$share/g/a/+", "$share//a", "$share/g", "a/#/b", "+a", "\xed\xa0\x80", "a\x00",
		strings.Repeat("/", 200), strings.Repeat("a/", 201), "$share/g/" + strings.Repeat("+/", 199)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		err := topic.ValidFilter(filter)
		nameErr := topic.ValidName(filter)
		if err != nil && !isSentinel(err) || nameErr != nil && !isSentinel(nameErr) {
			t.Fatalf("unexpected errors %v, %v", err, nameErr)
		}
		if nameErr == nil && err != nil && !strings.HasPrefix(filter, topic.SharePrefix) {
			t.Fatalf("valid name %q is an invalid filter: %v", filter, err)
		}
		group, inner, shared, perr := topic.ParseShared(filter)
		if shared != strings.HasPrefix(filter, topic.SharePrefix) || (shared && perr != err) {
			t.Fatalf("ParseShared = %q, %q, %v, %v; ValidFilter = %v", group, inner, shared, perr, err)
		}
		if err != nil {
			return
		}
		if shared {
			if group == "" || strings.ContainsAny(group, "/+#") || filter != topic.SharePrefix+group+"/"+inner {
				t.Fatalf("ParseShared(%q) = %q, %q", filter, group, inner)
			}
		}
		// Invariants of a valid plain filter (the inner one, if shared).
		name := concrete(inner)
		if err := topic.ValidName(name); err != nil {
			t.Fatalf("concrete(%q) = %q is invalid: %v", inner, name, err)
		}
		if !topic.Match(inner, name) {
			t.Fatalf("%q does not match %q", inner, name)
		}
		if topic.Levels(inner) != topic.Levels(name) {
			t.Fatalf("levels %q %d != %q %d", inner, topic.Levels(inner), name, topic.Levels(name))
		}
		if topic.Match(inner, name+"/y") != strings.HasSuffix(inner, "#") {
			t.Fatalf("%q vs %q: deeper name", inner, name+"/y")
		}
		if p, ok := strings.CutSuffix(inner, "/#"); ok && p != "" && !topic.Match(inner, concrete(p)) {
			t.Fatalf("%q does not match its parent %q", inner, concrete(p))
		}
		if inner[0] == '+' || inner[0] == '#' {
			if dollar := "$" + name[1:]; topic.Match(inner, dollar) {
				t.Fatalf("[MQTT-4.7.2-1] %q matches %q", inner, dollar)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.filter+"\n$share/g/"+tc.filter, tc.name)
	}
	f.Add("a/+\na/#\n#\n+/+\n$share/g/+/b", "a/b")
	f.Add(strings.Repeat("/", 201)+"\n$share/g/"+strings.Repeat("/", 192), "a") // past the depth limit
	f.Fuzz(func(t *testing.T, filters, name string) {
		if topic.ValidName(name) != nil {
			return
		}
		ix := topic.NewIndex[int]()
		var r topic.Retained[bool]
		r.Set(name, true)
		want := map[string]bool{}
		for i, filter := range strings.SplitN(filters, "\n", 8) {
			_, inner, _, err := topic.ParseShared(filter)
			if _, serr := ix.Subscribe(i, filter, topic.Options{}); (serr == nil) != (topic.ValidFilter(filter) == nil) {
				t.Fatalf("Subscribe(%q) = %v", filter, serr)
			}
			if err != nil || topic.ValidFilter(filter) != nil {
				continue
			}
			m := topic.Match(inner, name)
			want[filter] = m
			n := 0
			r.Match(inner, func(string, bool) bool { n++; return true })
			if n != btoi(m) {
				t.Fatalf("Retained.Match(%q) found %d for %q, Match says %v", inner, n, name, m)
			}
		}
		var m topic.Matches[int]
		ix.Match(name, &m)
		got := map[string]bool{}
		for _, e := range m.Subs {
			got[e.Filter] = true
		}
		for _, g := range m.Shared {
			got[g.Filter()] = true
		}
		for f, w := range want {
			if got[f] != w {
				t.Fatalf("Index.Match(%q) has %q = %v, Match says %v", name, f, got[f], w)
			}
		}
		for f := range got {
			if !want[f] {
				t.Fatalf("Index.Match(%q) reported %q", name, f)
			}
		}
	})
}
