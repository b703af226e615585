package dynsec_test

import (
	"slices"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestACLUnsubscribe checks unsubscribeLiteral and unsubscribePattern: a
// denied filter stays subscribed, with 0x87 in an MQTT 5 UNSUBACK (and a
// plain UNSUBACK in MQTT 3.1.1), as Mosquitto answers; the unsubscribe
// default decides the rest.
func TestACLUnsubscribe(t *testing.T) {
	e := newEnv(t)
	e.ok(t,
		`{"command":"createClient","username":"u","password":"pw"}`,
		`{"command":"createRole","rolename":"r","acls":[`+
			`{"acltype":"subscribePattern","topic":"#","allow":true},`+
			`{"acltype":"publishClientSend","topic":"#","allow":true},`+
			`{"acltype":"unsubscribeLiteral","topic":"keep/lit","allow":false},`+
			`{"acltype":"unsubscribePattern","topic":"keep/%c/#","allow":false},`+
			`{"acltype":"unsubscribePattern","topic":"keep/other/#","allow":true}]}`,
		`{"command":"addClientRole","username":"u","rolename":"r"}`,
	)
	filters := []string{"keep/lit", "keep/cid/x", "keep/other/x", "free/x"}
	for _, v := range []byte{5, 4} {
		c := e.login(t, v, "cid", "u", "pw")
		for i, f := range filters {
			if got := sub(t, c, uint16(i+1), f); got != 1 {
				t.Fatalf("v%d subscribe %s: %v", v, f, got)
			}
		}
		c.Send(&packet.Unsubscribe{PacketID: 10, Filters: filters})
		ack := testutil.Expect[*packet.Unsuback](c)
		if v == 5 {
			want := []packet.ReasonCode{packet.NotAuthorized, packet.NotAuthorized, packet.Success, packet.Success}
			if !slices.Equal(ack.ReasonCodes, want) {
				t.Errorf("v5 UNSUBACK %v, want %v", ack.ReasonCodes, want)
			}
		}
		// The denied filters are still subscribed: only they deliver.
		for i, f := range filters {
			c.Send(&packet.Publish{Topic: f, QoS: 1, PacketID: uint16(20 + i), Payload: []byte("x")})
		}
		var got []string
		for acks := 0; acks < len(filters) || len(got) < 2; {
			switch p := c.Next().(type) {
			case *packet.Ack:
				acks++
			case *packet.Publish:
				got = append(got, p.Topic)
				if p.QoS > 0 {
					c.Send(&packet.Ack{Kind: packet.TypePuback, PacketID: p.PacketID})
				}
			}
		}
		c.ExpectNothing(100 * time.Millisecond)
		slices.Sort(got)
		if want := []string{"keep/cid/x", "keep/lit"}; !slices.Equal(got, want) {
			t.Errorf("v%d received %v after UNSUBSCRIBE, want %v", v, got, want)
		}
		c.Close()
	}
	// The default: with unsubscribe deny, a filter no ACL covers is refused
	// too (no other authorizer is configured).
	e.ok(t, `{"command":"setDefaultACLAccess","acls":[{"acltype":"unsubscribe","allow":false}]}`)
	c := e.login(t, 5, "cid", "u", "pw")
	c.Send(&packet.Unsubscribe{PacketID: 1, Filters: []string{"free/x", "keep/other/x"}})
	ack := testutil.Expect[*packet.Unsuback](c)
	if want := []packet.ReasonCode{packet.NotAuthorized, packet.NoSubscriptionExisted}; !slices.Equal(ack.ReasonCodes, want) {
		t.Errorf("UNSUBACK with default deny %v, want %v", ack.ReasonCodes, want)
	}
}
