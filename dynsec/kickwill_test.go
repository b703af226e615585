package dynsec_test

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestKickDropsWill checks that a client kicked because its rights changed
// does not leave its will behind, as Mosquitto's plugin kicks (with_will
// false), while a client whose connection breaks does.
func TestKickDropsWill(t *testing.T) {
	e := newEnv(t)
	e.ok(t,
		`{"command":"createClient","username":"w","password":"pw"}`,
		`{"command":"createRole","rolename":"wills","acls":[{"acltype":"publishClientSend","topic":"wills/#","allow":true}]}`,
		`{"command":"createRole","rolename":"other"}`,
		`{"command":"addClientRole","username":"w","rolename":"wills"}`,
	)
	watcher := e.login(t, 5, "watcher", "admin", adminPassword)
	if got := sub(t, watcher, 1, "wills/#"); got != 1 {
		t.Fatalf("watcher SUBACK %v", got)
	}
	connect := func(id string, v byte) *testutil.Client {
		c := testutil.Dial(t, e.b.Addr, v)
		ack := c.Connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
			HasUsername: true, Username: "w", HasPassword: true, Password: []byte("pw"),
			Will: &packet.Will{Topic: "wills/" + id, Payload: []byte("gone")}})
		if ack.ReasonCode != packet.Success {
			t.Fatalf("CONNACK %v", ack.ReasonCode)
		}
		return c
	}
	kicked5, kicked4 := connect("kicked5", 5), connect("kicked4", 4)
	e.ok(t, `{"command":"addClientRole","username":"w","rolename":"other"}`)
	testutilExpectKick(t, kicked5)
	kicked4.ExpectClosed()
	// A broken connection's will is published: it shows the watcher would
	// have seen the kicked clients' wills.
	broken := connect("broken", 5)
	broken.Close()
	if p := watcher.NextPublish(); p.Topic != "wills/broken" {
		t.Fatalf("will of a kicked client published: %s", p.Topic)
	}
	watcher.ExpectNothing(200 * time.Millisecond)
}
