package topic_test

import (
	"testing"

	"github.com/midge-mqtt/midge/internal/topic"
)

// matchCases are filter/name pairs from MQTT 5.0 §4.7 and the corners around
// them. Index and Retained are checked against the same table.
var matchCases = []struct {
	filter, name string
	want         bool
}{
	{"a/b/c", "a/b/c", true},
	{"a/b/c", "a/b", false},
	{"a/b", "a/b/c", false},
	{"a/b/c", "A/b/c", false}, // case sensitive
	{"a/b", "a/b/", false},
	{"a/b/", "a/b/", true},
	{"/", "/", true},
	{"/a", "a", false},

	// [MQTT-4.7.1-2] multi-level wildcard.
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/#", "sport", true},
	{"sport/#", "sport/", true},
	{"sport/#", "sports", false},
	{"#", "sport/tennis", true},
	{"#", "/", true},
	{"#", "a", true},
	{"a/#", "b/a", false},

	// [MQTT-4.7.1-3] single-level wildcard.
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+", "a", true},
	{"+", "/a", false},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},
	{"+/#", "a", true},
	{"+/#", "a/b/c", true},
	{"+/b/+", "a/b/c", true},
	{"+/b/+", "a/x/c", false},
	{"a/+/#", "a/b", true},
	{"a/+/#", "a", false},
	{"+/+/+", "a/b", false},

	// [MQTT-4.7.2-1] topics beginning with $.
	{"#", "$SYS/broker/uptime", false},
	{"#", "$SYS", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"+", "$SYS", false},
	{"+/#", "$SYS/x", false},
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"$SYS/+", "$SYS/x", true},
	{"a/#", "a/$b", true},
	{"a/+", "a/$b", true},
	{"$x", "$x", true},

	// Edge cases: the matcher reports false rather than panicking.
	{"", "a", false},
	{"a", "", false},
	{"#", "", false},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		if got := topic.Match(tc.filter, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.name, got, tc.want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		topic.Match("devices/+/telemetry/#", "devices/1234/telemetry/temp/c")
	}); n != 0 {
		t.Errorf("Match allocates %v times, want 0", n)
	}
}
