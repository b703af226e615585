package interop_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestDynsecUnsubscribe gives Debian's mosquitto with its dynamic
// security plugin and midge the same unsubscribe ACLs and compares the
// UNSUBACK reason codes.
func TestDynsecUnsubscribe(t *testing.T) {
	const setup = `{"commands":[
{"command":"createClient","username":"u","password":"pw"},
{"command":"createRole","rolename":"r","acls":[
 {"acltype":"subscribePattern","topic":"#","allow":true},
 {"acltype":"unsubscribeLiteral","topic":"keep/lit","allow":false},
 {"acltype":"unsubscribePattern","topic":"keep/pat/#","allow":false},
 {"acltype":"unsubscribePattern","topic":"keep/pat/ok","priority":5,"allow":true}]},
{"command":"addClientRole","username":"u","rolename":"r"}]}`
	filters := []string{"free/x", "keep/lit", "keep/pat/x", "keep/pat/ok", "keep/+/x", "free/y"}
	results := make([][]packet.ReasonCode, 2)
	for i, mosq := range []bool{true, false} {
		c := dynsecSetUp(t, mosq, setup)
		for j, f := range filters[:len(filters)-1] {
			c.Send(&packet.Subscribe{PacketID: uint16(j + 1), Subscriptions: []packet.Subscription{{Filter: f, QoS: 1}}})
			testutil.Expect[*packet.Suback](c)
		}
		for j, f := range filters {
			c.Send(&packet.Unsubscribe{PacketID: uint16(20 + j), Filters: []string{f}})
			results[i] = append(results[i], testutil.Expect[*packet.Unsuback](c).ReasonCodes...)
		}
	}
	if !slices.Equal(results[0], results[1]) {
		t.Errorf("UNSUBACK reason codes\nmidge:     %v\nmosquitto: %v", results[1], results[0])
	}
	if want := packet.NotAuthorized; len(results[1]) < 2 || results[1][1] != want {
		t.Errorf("midge: keep/lit unsubscribed: %v", results[1])
	}
}

// TestDynsecKickDropsWill checks, on Debian's mosquitto with its plugin
// and on midge, that a client kicked because its roles changed leaves no
// will behind, while one whose connection breaks does.
func TestDynsecKickDropsWill(t *testing.T) {
	const setup = `{"commands":[
{"command":"createClient","username":"w","password":"pw"},
{"command":"createRole","rolename":"wills","acls":[{"acltype":"publishClientSend","topic":"wills/#","allow":true}]},
{"command":"createRole","rolename":"other"},
{"command":"addClientRole","username":"w","rolename":"wills"}]}`
	for _, mosq := range []bool{true, false} {
		name := map[bool]string{true: "mosquitto", false: "midge"}[mosq]
		port, _ := dynsecBroker(t, mosq)
		if r := dynsecRequest(t, port, setup); strings.Contains(r, "error") {
			t.Fatalf("%s: setup: %s", name, r)
		}
		watcher := dynsecLogin(t, port, "watcher", "admin", dynsecAdminPW, nil)
		if rc := watcher.Subscribe(1, "wills/#", 0).ReasonCodes[0]; rc != 0 {
			t.Fatalf("%s: watcher SUBACK %v", name, rc)
		}
		connect := func(id string) *testutil.Client {
			return dynsecLogin(t, port, id, "w", "pw", &packet.Will{Topic: "wills/" + id, Payload: []byte("gone")})
		}
		kicked := connect("kicked")
		if r := dynsecRequest(t, port, `{"commands":[{"command":"addClientRole","username":"w","rolename":"other"}]}`); strings.Contains(r, "error") {
			t.Fatalf("%s: addClientRole: %s", name, r)
		}
		kicked.ExpectClosed()
		broken := connect("broken")
		broken.Close()
		for p := watcher.NextPublish(); p.Topic != "wills/broken"; p = watcher.NextPublish() {
			t.Errorf("%s: will of the kicked client published: %s", name, p.Topic)
		}
	}
}
