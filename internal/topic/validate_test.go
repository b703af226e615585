package topic_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

// validCase is a topic and the error a validator returns for it.
type validCase struct {
	name string // what the case is about
	in   string
	want error
}

// checkValid runs valid, which is named fn, on each case as a subtest.
func checkValid(t *testing.T, fn string, valid func(string) error, cases []validCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := valid(tc.in); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("%s(%.40q) = %v, want %v", fn, tc.in, err, tc.want)
			}
		})
	}
}

// commonCases hold for topic names and topic filters alike: a name
// without wildcards is a filter too.
var commonCases = []validCase{
	{"simple", "a/b/c", nil},
	{"single level", "a", nil},
	{"separator only", "/", nil},
	{"empty levels", "/a//b/", nil},
	{"space", "sport tennis/player 1", nil},
	{"dollar", "$SYS/broker/uptime", nil},
	{"utf8", "température/Zürich/東京", nil},
	{"control chars allowed", "a\x01b\x7f", nil},
	{"max length", strings.Repeat("a", topic.MaxLen), nil},
	{"[MQTT-4.7.3-1] empty", "", topic.ErrEmpty},
	{"[MQTT-4.7.3-3] too long", strings.Repeat("a", topic.MaxLen+1), topic.ErrTooLong},
	{"[MQTT-4.7.3-2] null", "a\x00b", topic.ErrNull},
	{"[MQTT-1.5.4-1] invalid byte", "a\xffb", topic.ErrBadUTF8},
	{"[MQTT-1.5.4-1] truncated", "a\xe2\x82", topic.ErrBadUTF8},
	{"[MQTT-1.5.4-1] overlong", "\xc0\xaf", topic.ErrBadUTF8},
	{"[MQTT-1.5.4-1] surrogate", "a\xed\xa0\x80", topic.ErrBadUTF8},
}

func TestValidName(t *testing.T) {
	checkValid(t, "ValidName", topic.ValidName, slices.Concat(commonCases, []validCase{
		{"[MQTT-4.7.1-1] plus", "a/+", topic.ErrWildcardInName},
		{"[MQTT-4.7.1-1] hash", "a/#", topic.ErrWildcardInName},
		{"[MQTT-4.7.1-1] plus inside level", "a+b", topic.ErrWildcardInName},
		{"[MQTT-4.7.1-1] hash alone", "#", topic.ErrWildcardInName},
	}))
}

func TestValidFilter(t *testing.T) {
	checkValid(t, "ValidFilter", topic.ValidFilter, slices.Concat(commonCases, []validCase{
		{"hash alone", "#", nil},
		{"plus alone", "+", nil},
		{"[MQTT-4.7.1-2] trailing hash", "sport/tennis/#", nil},
		{"[MQTT-4.7.1-3] plus levels", "+/tennis/+", nil},
		{"plus then hash", "+/#", nil},
		{"plus and empty levels", "/+//+/", nil},
		{"dollar with hash", "$SYS/#", nil},
		{"utf8 with plus", "température/+", nil},
		{"share word without slash", "$share", nil},
		{"share case matters", "$SHARE//x", nil},
		{"[MQTT-4.7.3-2] null level", "a/\x00", topic.ErrNull},
		{"[MQTT-1.5.4-1] surrogate level", "a/\xed\xbf\xbf", topic.ErrBadUTF8},
		{"[MQTT-4.7.1-2] hash not last", "sport/tennis/#/ranking", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-2] hash not whole level", "sport/tennis#", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-2] hash before slash", "#/", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-2] two hashes", "##", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-3] plus prefix", "sport+", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-3] plus suffix", "+sport", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-3] plus inside level", "a/b+c/d", topic.ErrBadWildcard},
		{"[MQTT-4.7.1-3] two plus", "++", topic.ErrBadWildcard},
		{"[MQTT-4.8.2-1] shared", "$share/g/a/+", nil},
		{"[MQTT-4.8.2-1] shared hash", "$share/g/#", nil},
		{"[MQTT-4.8.2-1] shared dollar inner", "$share/g/$SYS/#", nil},
		{"[MQTT-4.8.2-1] shared empty level inner", "$share/g//", nil},
		{"[MQTT-4.8.2-1] empty share name", "$share//a", topic.ErrBadShare},
		{"[MQTT-4.8.2-1] no share name", "$share/", topic.ErrBadShare},
		{"[MQTT-4.8.2-2] no filter", "$share/g", topic.ErrBadShare},
		{"[MQTT-4.8.2-2] empty filter", "$share/g/", topic.ErrBadShare},
		{"[MQTT-4.8.2-2] plus in share name", "$share/g+/a", topic.ErrBadShare},
		{"[MQTT-4.8.2-2] hash in share name", "$share/#/a", topic.ErrBadShare},
		{"[MQTT-4.8.2-2] plus share name", "$share/+/a", topic.ErrBadShare},
		{"[MQTT-4.8.2-2] bad inner", "$share/g/a#", topic.ErrBadWildcard},
		{"[MQTT-4.7.3-2] null share name", "$share/g\x00/a", topic.ErrNull},
		{"[MQTT-1.5.4-1] bad utf8 share name", "$share/\xff/a", topic.ErrBadUTF8},
		{"[MQTT-4.7.3-3] shared too long", "$share/g/" + strings.Repeat("a", topic.MaxLen), topic.ErrTooLong},
	}))
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		in           string
		group, inner string
		shared       bool
		err          error
	}{
		{"a/b", "", "a/b", false, nil},
		{"$share", "", "$share", false, nil},
		{"$sharex/g/a", "", "$sharex/g/a", false, nil},
		{"$share/g/a/b", "g", "a/b", true, nil},
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", true, nil},
		{"$share/g/#", "g", "#", true, nil},
		{"$share/g/$share/h/x", "g", "$share/h/x", true, nil},
		{"$share/g", "", "", true, topic.ErrBadShare},
		{"$share//x", "", "", true, topic.ErrBadShare},
		{"$share/g/a/#/b", "", "", true, topic.ErrBadWildcard},
	}
	for _, tc := range tests {
		group, inner, shared, err := topic.ParseShared(tc.in)
		if group != tc.group || inner != tc.inner || shared != tc.shared || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("ParseShared(%q) = %q, %q, %v, %v; want %q, %q, %v, %v",
				tc.in, group, inner, shared, err, tc.group, tc.inner, tc.shared, tc.err)
		}
	}
}

func TestLevels(t *testing.T) {
	for in, want := range map[string]int{"a": 1, "/": 2, "a/b/#": 3, "//": 3, "": 1} {
		if got := topic.Levels(in); got != want {
			t.Errorf("Levels(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestValidNameAllocs(t *testing.T) {
	name := "devices/température/12345/state"
	if n := testing.AllocsPerRun(100, func() { _ = topic.ValidName(name); _ = topic.ValidFilter(name) }); n != 0 {
		t.Errorf("ValidName+ValidFilter allocate %v times, want 0", n)
	}
}

// IsSys knows the $SYS tree by its whole first level; IsShared knows a
// shared filter by its prefix.
func TestIsSysIsShared(t *testing.T) {
	for name, want := range map[string]bool{
		"$SYS": true, "$SYS/broker/uptime": true, "$SYS/": true,
		"$SYSX": false, "$sys/a": false, "a/$SYS": false, "": false,
	} {
		if got := topic.IsSys(name); got != want {
			t.Errorf("IsSys(%q) = %v, want %v", name, got, want)
		}
	}
	for f, want := range map[string]bool{
		"$share/g/a": true, "$share/": true, "$share": false, "$SHARE/g/a": false, "a/$share/g": false,
	} {
		if got := topic.IsShared(f); got != want {
			t.Errorf("IsShared(%q) = %v, want %v", f, got, want)
		}
	}
}

// Of the $SYS tree, clients may write only a bridge's state topic;
// $CONTROL/ starts control topics.
func TestSysWriteDeniedIsControl(t *testing.T) {
	for name, want := range map[string]bool{
		"$SYS/broker/connection/b1/state": false, "$SYS/broker/connection//state": false,
		"$SYS/broker/connection/a/b/state": true, "$SYS/broker/connection/state": true,
		"$SYS/broker/connection/b1/state/x": true, "$SYS/broker/uptime": true, "$SYS": true,
		"$SYSTEM/a": true, "$SYSX": true, "$sys/a": false, "a/b": false, "$SY": false,
	} {
		if got := topic.SysWriteDenied(name); got != want {
			t.Errorf("SysWriteDenied(%q) = %v, want %v", name, got, want)
		}
	}
	if !topic.IsControl("$CONTROL/broker/v1") || topic.IsControl("$CONTROL") || topic.IsControl("a/$CONTROL/") {
		t.Error("IsControl is wrong")
	}
}

// Mosquitto refuses a name or filter with more than 200 '/' (201 levels
// are the most), counting a shared subscription's prefix too.
func TestTopicDepth(t *testing.T) {
	deep := func(slashes int) string { return "a" + strings.Repeat("/a", slashes) }
	for _, tc := range []struct {
		s          string
		name, filt error
	}{
		{deep(200), nil, nil},
		{deep(201), topic.ErrTooDeep, topic.ErrTooDeep},
		{strings.Repeat("/", 200), nil, nil},
		{strings.Repeat("/", 201), topic.ErrTooDeep, topic.ErrTooDeep},
		{"$share/g/" + deep(198), nil, nil},
		{"$share/g/" + deep(199), topic.ErrTooDeep, topic.ErrTooDeep},
		{deep(200) + "/#", topic.ErrWildcardInName, topic.ErrTooDeep},
		{"a+" + strings.Repeat("/", 300), topic.ErrWildcardInName, topic.ErrBadWildcard},
	} {
		if got := topic.ValidName(tc.s); got != tc.name {
			t.Errorf("ValidName(%d '/') = %v, want %v", strings.Count(tc.s, "/"), got, tc.name)
		}
		if got := topic.ValidFilter(tc.s); got != tc.filt {
			t.Errorf("ValidFilter(%.12q.. %d '/') = %v, want %v", tc.s, strings.Count(tc.s, "/"), got, tc.filt)
		}
	}
}
