package packet_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/midge-mqtt/midge/packet"
)

func TestValidTopicName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "a/b": true, "/": true, "//": true, "/a/": true, "$SYS/x": true, "$share/g/a": true,
		"é/\u4e16": true, "\ufeff": true, " ": true, strings.Repeat("a", 65535): true,
		"": false, "+": false, "#": false, "a/+": false, "a/#": false, "a+b": false,
		"a\x00": false, "\xff": false, "\xed\xa0\x80": false, strings.Repeat("a", 65536): false,
	} {
		if got := packet.ValidTopicName(name); got != want {
			t.Errorf("ValidTopicName(%.20q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidTopicFilter(t *testing.T) {
	for f, want := range map[string]bool{
		"a": true, "#": true, "+": true, "+/+": true, "/+": true, "+/": true, "a/+/b": true, "a/#": true,
		"/#": true, "+/#": true, "/": true, "$SYS/#": true, "$share/g/a": true, "$share/g/#": true,
		"$share/g/+/a": true, "$share/g//": true, "$share/g/$share/h/a": true, "$share": true, "$sharex/a": true,
		"sport/tennis/+/ranking/#": true, "é/+": true, strings.Repeat("/", 200): true, strings.Repeat("/", 201): false, // 2.1: at most 200 "/"
		"": false, "a/#/b": false, "a#": false, "#/a": false, "##": false, "a/#/": false, "a+": false,
		"+a": false, "a/b+": false, "++": false, "+#": false, "#+": false,
		"$share/g": false, "$share/": false, "$share//a": false, "$share/g+/a": false, "$share/#/a": false,
		"$share/g/": false, "$share/g/a/#/b": false, "a\x00": false, "\xed\xbf\xbf": false,
		strings.Repeat("/", 65536): false,
	} {
		if got := packet.ValidTopicFilter(f); got != want {
			t.Errorf("ValidTopicFilter(%.20q) = %v, want %v", f, got, want)
		}
	}
}

func TestValidString(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "abc": true, "é": true, "\U0010ffff": true, "\ufeff": true, "\ufffe": true,
		strings.Repeat("a", 65535): true, strings.Repeat("a", 65536): false,
		"\x00": false, "é\x00": false, "\xff": false, "\xc0\x80": false, "\xed\xa0\x80": false,
		"\xf4\x90\x80\x80": false, "\xe2\x82": false,
	} {
		if got := packet.ValidString(s); got != want {
			t.Errorf("ValidString(%.20q) = %v, want %v", s, got, want)
		}
	}
}

// refValidFilter is a second, level-by-level implementation of the topic
// filter rules, to compare ValidTopicFilter with.
func refValidFilter(f string) bool {
	if f == "" || len(f) > 65535 || !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
		return false
	}
	if strings.Count(f, "/") > 200 { // Mosquitto's limit; a $share prefix counts
		return false
	}
	if strings.HasPrefix(f, "$share/") {
		parts := strings.SplitN(f, "/", 3)
		if len(parts) < 3 || parts[1] == "" || strings.ContainsAny(parts[1], "+#") || parts[2] == "" {
			return false
		}
		f = parts[2]
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// FuzzValidTopicFilter checks ValidTopicFilter against refValidFilter and
// the relations between filters, names and strings.
func FuzzValidTopicFilter(f *testing.F) {
	for _, s := range []string{"a/b", "#", "+/+", "a/#/b", "$share/g/a/#", "$share//a", "a+", "é/\x00", "\xed\xa0\x80", "/",
		strings.Repeat("/", 200), strings.Repeat("/", 201), "$share/g/" + strings.Repeat("+/", 198)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid := packet.ValidTopicFilter(s)
		if ref := refValidFilter(s); valid != ref {
			t.Fatalf("ValidTopicFilter(%q) = %v, reference says %v", s, valid, ref)
		}
		if valid && !packet.ValidString(s) {
			t.Fatalf("valid filter %q is not a valid string", s)
		}
		name := packet.ValidTopicName(s)
		if name != (s != "" && packet.ValidString(s) && !strings.ContainsAny(s, "+#") && strings.Count(s, "/") <= 200) {
			t.Fatalf("ValidTopicName(%q) = %v", s, name)
		}
		// Every valid topic name is a valid filter, except shared
		// subscription prefixes without a filter.
		if name && !strings.HasPrefix(s, "$share/") && !valid {
			t.Fatalf("name %q is not a valid filter", s)
		}
		if packet.ValidString(s) != (len(s) <= 65535 && utf8.ValidString(s) && !strings.ContainsRune(s, 0)) {
			t.Fatalf("ValidString(%q) disagrees with utf8.ValidString", s)
		}
	})
}
