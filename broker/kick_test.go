package broker_test

import (
	"testing"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

func TestDisconnectClients(t *testing.T) {
	b := start(t, open())
	var cs []*testutil.Client
	for i, u := range []string{"alice", "bob", "alice"} {
		c, _ := connectWith(t, b, &packet.Connect{ProtocolVersion: 5, ClientID: "c" + string(rune('0'+i)), CleanStart: true,
			HasUsername: true, Username: u})
		cs = append(cs, c)
	}
	anon := connect(t, b, 4, "anon")
	if n := b.DisconnectClients(func(c *broker.Client) bool { return c.HasUsername && c.Username == "alice" }); n != 2 {
		t.Fatalf("DisconnectClients kicked %d", n)
	}
	expectDisconnect(t, cs[0], packet.AdministrativeAction)
	expectDisconnect(t, cs[2], packet.AdministrativeAction)
	ping(t, cs[1])
	if n := b.DisconnectClients(func(c *broker.Client) bool { return !c.HasUsername }); n != 1 {
		t.Fatalf("DisconnectClients kicked %d anonymous clients", n)
	}
	anon.ExpectClosed()
	ping(t, cs[1])
}
