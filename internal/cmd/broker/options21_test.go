//go:build unix

package broker

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestListenerOptions21 loads Mosquitto 2.1's listener options from a
// real file and checks each over TCP: listener_allow_anonymous,
// listener_auto_id_prefix, max_topic_alias_broker and
// accept_protocol_versions apply to their own listener only.
func TestListenerOptions21(t *testing.T) {
	t.Parallel()
	portB := freePort(t)
	_, portA := runConf(t, strings.Join([]string{
		"log_dest none",
		"listener PORT 127.0.0.1",
		"listener_allow_anonymous true",
		"listener_auto_id_prefix pfx-",
		"max_topic_alias_broker 5",
		"listener " + portB + " 127.0.0.1",
		"accept_protocol_versions 5",
	}, "\n")+"\n")
	a, b := "127.0.0.1:"+portA, "127.0.0.1:"+portB

	// listener_allow_anonymous: A admits anonymous clients, B (the
	// default once a listener is configured) does not.
	testutil.Connect(t, a, packet.Version311, "anon")
	cb := testutil.Dial(t, b, packet.Version5)
	if ack := cb.Connect(&packet.Connect{ClientID: "anon", CleanStart: true}); ack.ReasonCode != packet.NotAuthorized {
		t.Errorf("anonymous on B: CONNACK %v, want Not authorized", ack.ReasonCode)
	}

	// listener_auto_id_prefix on A.
	ca := testutil.Dial(t, a, packet.Version5)
	ack := ca.Connect(&packet.Connect{CleanStart: true})
	if id := ack.Properties.AssignedClientID; ack.ReasonCode != packet.Success || !strings.HasPrefix(id, "pfx-") {
		t.Errorf("assigned identifier %q (CONNACK %v), want pfx-...", id, ack.ReasonCode)
	}

	// max_topic_alias_broker on A: the second message on a topic comes
	// with its alias only.
	cp := &packet.Connect{ProtocolVersion: packet.Version5, ClientID: "s", CleanStart: true}
	cp.Properties.SetUint(packet.PropTopicAliasMaximum, 3)
	s := testutil.Dial(t, a, packet.Version5)
	s.Connect(cp)
	s.Subscribe(1, "t/#", 0)
	p, _ := testutil.Connect(t, a, packet.Version311, "p")
	p.Send(&packet.Publish{Topic: "t/x", Payload: []byte("1")})
	p.Send(&packet.Publish{Topic: "t/x", Payload: []byte("2")})
	for i, want := range []string{"t/x", ""} {
		m := testutil.Expect[*packet.Publish](s)
		if m.Topic != want || !m.Properties.Has(packet.PropTopicAlias) || m.Properties.TopicAlias != 1 {
			t.Errorf("message %d: topic %q alias %v %d, want %q alias 1", i, m.Topic, m.Properties.Has(packet.PropTopicAlias), m.Properties.TopicAlias, want)
		}
	}

	// accept_protocol_versions 5 on B: a 3.1.1 client gets CONNACK 0x01.
	old := testutil.Dial(t, b, packet.Version311)
	if ack := old.Connect(&packet.Connect{ClientID: "old", CleanStart: true}); ack.ReasonCode != packet.ConnackV3UnacceptableProtocolVersion {
		t.Errorf("3.1.1 on a 5-only listener: CONNACK %v", ack.ReasonCode)
	}
}

// TestGlobalMaxConnectionsAndClients loads global_max_connections and
// global_max_clients from a file: the connection over the first limit is
// closed before CONNECT, the session over the second refused at CONNECT.
func TestGlobalMaxConnectionsAndClients(t *testing.T) {
	t.Parallel()
	_, port := runConf(t, "log_dest none\nglobal_max_connections 2\nlistener PORT 127.0.0.1\nallow_anonymous true\n")
	addr := "127.0.0.1:" + port
	testutil.Connect(t, addr, packet.Version311, "one")
	testutil.Connect(t, addr, packet.Version311, "two")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
	n, err := nc.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("third connection not closed (read %d bytes, %v)", n, err)
	}

	_, port = runConf(t, "log_dest none\nglobal_max_clients 1\nlistener PORT 127.0.0.1\nallow_anonymous true\n")
	addr = "127.0.0.1:" + port
	testutil.Connect(t, addr, packet.Version5, "one")
	c := testutil.Dial(t, addr, packet.Version5)
	if ack := c.Connect(&packet.Connect{ClientID: "two", CleanStart: true}); ack.ReasonCode != packet.ServerBusy {
		t.Errorf("second session: CONNACK %v, want Server busy", ack.ReasonCode)
	}
}
