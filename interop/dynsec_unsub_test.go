package interop_test

import (
	"net"
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
		port, _ := dynsecBroker(t, mosq)
		if r := dynsecRequest(t, port, setup); strings.Contains(r, "error") {
			t.Fatalf("setup: %s", r)
		}
		c := testutil.Dial(t, net.JoinHostPort("127.0.0.1", port), packet.Version5)
		ack := c.Connect(&packet.Connect{ClientID: "cid", CleanStart: true, KeepAlive: 60,
			HasUsername: true, Username: "u", HasPassword: true, Password: []byte("pw")})
		if ack.ReasonCode != packet.Success {
			t.Fatalf("CONNACK %v", ack.ReasonCode)
		}
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
