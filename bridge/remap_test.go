package bridge_test

import (
	"errors"
	"testing"

	"github.com/midge-mqtt/midge/bridge"
)

// The table of Mosquitto's manual page: pattern, local and remote prefix.
func TestNewTopicValidity(t *testing.T) {
	for _, tc := range []struct {
		pattern, lp, rp string
		ok              bool
		local, remote   string
	}{
		{"pattern", "L/", "R/", true, "L/pattern", "R/pattern"},
		{"pattern", "L/", "", true, "L/pattern", "pattern"},
		{"pattern", "", "R/", true, "pattern", "R/pattern"},
		{"pattern", "", "", true, "pattern", "pattern"},
		{"", "local", "remote", true, "local", "remote"},
		{"", "local", "", false, "", ""},
		{"", "", "remote", false, "", ""},
		{"", "", "", false, "", ""},
		{"ic/+", "local4/top", "remote4/tip", true, "local4/topic/+", "remote4/tipic/+"},
		{"#", "a/+/", "", false, "", ""}, // wildcard in a prefix
		{"#", "a#", "", false, "", ""},   // prefix + pattern not a filter
		{"a/#/b", "", "", false, "", ""}, // not a filter
	} {
		top, err := bridge.NewTopic(tc.pattern, bridge.Both, 1, tc.lp, tc.rp)
		if (err == nil) != tc.ok {
			t.Errorf("NewTopic(%q, %q, %q): err %v, want ok=%v", tc.pattern, tc.lp, tc.rp, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, bridge.ErrInvalidTopic) {
				t.Errorf("error %v does not match ErrInvalidTopic", err)
			}
			continue
		}
		if top.Local != tc.local || top.Remote != tc.remote {
			t.Errorf("NewTopic(%q, %q, %q) = %q, %q; want %q, %q", tc.pattern, tc.lp, tc.rp, top.Local, top.Remote, tc.local, tc.remote)
		}
	}
	if _, err := bridge.NewTopic("a", bridge.Out, 3, "", ""); err == nil {
		t.Error("QoS 3 accepted")
	}
}

func TestRemap(t *testing.T) {
	topics := []bridge.Topic{
		mustTopic(t, "sensors/#", bridge.Out, "edge/", "site1/"),
		mustTopic(t, "cmd/#", bridge.In, "local/", "cloud/"),
		mustTopic(t, "both/#", bridge.Both, "", "r/"),
		mustTopic(t, "", bridge.Both, "single/local", "single/remote"),
		mustTopic(t, "sensors/#", bridge.Out, "edge/", "second/"), // never reached: first match wins
		mustTopic(t, "plain/#", bridge.Both, "", ""),
	}
	out := map[string]string{
		"edge/sensors/t": "site1/sensors/t",
		"both/x":         "r/both/x",
		"single/local":   "single/remote",
		"plain/a":        "plain/a",
		"other":          "other",
		"local/cmd/x":    "local/cmd/x", // an "in" topic does not remap out
	}
	for in, want := range out {
		if got := bridge.RemapOut(topics, in); got != want {
			t.Errorf("RemapOut(%q) = %q, want %q", in, got, want)
		}
	}
	in := map[string]string{
		"cloud/cmd/reboot": "local/cmd/reboot",
		"r/both/x":         "both/x",
		"single/remote":    "single/local",
		"site1/sensors/t":  "site1/sensors/t", // an "out" topic does not remap in
		"plain/a":          "plain/a",
	}
	for name, want := range in {
		if got := bridge.RemapIn(topics, name); got != want {
			t.Errorf("RemapIn(%q) = %q, want %q", name, got, want)
		}
	}
}
