package dynsec_test

import (
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// TestPatternLevels checks %c and %u as Mosquitto 2.1 substitutes them:
// only a whole level is a pattern ("x%cy" is plain text), and a client id
// that would span levels or be a wildcard never matches.
func TestPatternLevels(t *testing.T) {
	e := newEnv(t)
	e.ok(t,
		`{"command":"createClient","username":"u","password":"pw"}`,
		`{"command":"createRole","rolename":"r","acls":[`+
			`{"acltype":"publishClientSend","topic":"p/%c","allow":true},`+
			`{"acltype":"publishClientSend","topic":"q/x%cy","allow":true},`+
			`{"acltype":"publishClientSend","topic":"%u/in","allow":true},`+
			`{"acltype":"subscribePattern","topic":"s/%u/#","allow":true},`+
			`{"acltype":"subscribePattern","topic":"t/x%u","allow":true}]}`,
		`{"command":"addClientRole","username":"u","rolename":"r"}`,
	)
	allowed := func(rc packet.ReasonCode) bool { return rc == packet.Success || rc == packet.NoMatchingSubscribers }
	c := e.login(t, 5, "cid", "u", "pw")
	for i, tc := range []struct {
		topic string
		want  bool
	}{
		{"p/cid", true},
		{"p/%c", false},
		{"q/xcidy", false}, // %c inside a level is text
		{"q/x%cy", true},
		{"u/in", true},
		{"p/other", false},
	} {
		if got := pub(t, c, uint16(i+1), tc.topic); allowed(got) != tc.want {
			t.Errorf("publish %s: %v, want allowed %v", tc.topic, got, tc.want)
		}
	}
	for i, tc := range []struct {
		filter string
		want   packet.ReasonCode
	}{
		{"s/u/x", 1},
		{"s/u/#", 1},
		{"s/%u/x", packet.NotAuthorized},
		{"t/xu", packet.NotAuthorized},
		{"t/x%u", 1},
	} {
		if got := sub(t, c, uint16(i+20), tc.filter); got != tc.want {
			t.Errorf("subscribe %s: %v, want %v", tc.filter, got, tc.want)
		}
	}
	// A client id that is a wildcard, or spans levels, matches no %c level:
	// put in, "p/%c" would grant p/# or p/a/b.
	for _, id := range []string{"#", "+", "a/b"} {
		w := e.login(t, 5, id, "u", "pw")
		for i, topic := range []string{"p/x", "p/a/b"} {
			if got := pub(t, w, uint16(i+1), topic); allowed(got) {
				t.Errorf("client id %q may publish %s", id, topic)
			}
		}
		w.Close()
	}
}
