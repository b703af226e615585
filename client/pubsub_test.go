package client_test

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestQoS publishes at QoS 0, 1 and 2 to subscriptions of QoS 0, 1 and 2,
// for each protocol version, against midge and Mosquitto: every message
// arrives once, at the lower of the two QoS.
func TestQoS(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		prefix := uniqueID("qos")
		in := newInbox()
		sub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v,
			ClientID: uniqueID("sub"), CleanStart: true, OnMessage: in.handler})
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("pub"), CleanStart: true})
		ctx := testContext(t)
		for q := byte(0); q <= 2; q++ {
			ack, err := sub.Subscribe(ctx, client.Subscription{Filter: fmt.Sprintf("%s/%d", prefix, q), QoS: q})
			if err != nil {
				t.Fatal(err)
			}
			if len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != packet.ReasonCode(q) {
				t.Fatalf("SUBACK %v, want granted QoS %d", ack.ReasonCodes, q)
			}
		}
		var want []string
		for sq := byte(0); sq <= 2; sq++ {
			for pq := byte(0); pq <= 2; pq++ {
				payload := fmt.Sprintf("sub%d-pub%d", sq, pq)
				m := &client.Message{Topic: fmt.Sprintf("%s/%d", prefix, sq), QoS: pq, Payload: []byte(payload)}
				if err := pub.Publish(ctx, m); err != nil {
					t.Fatalf("Publish QoS %d: %v", pq, err)
				}
				want = append(want, fmt.Sprintf("%s q%d", payload, min(sq, pq)))
			}
		}
		var got []string
		for range want {
			m := in.next(t)
			got = append(got, fmt.Sprintf("%s q%d", m.Payload, m.QoS))
			if (m.QoS > 0) != (m.PacketID != 0) {
				t.Errorf("QoS %d message with packet id %d", m.QoS, m.PacketID)
			}
			if m.Dup || m.Retain {
				t.Errorf("message %q: dup %v retain %v", m.Payload, m.Dup, m.Retain)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
		in.none(t, 100*time.Millisecond)
		if err := pub.Disconnect(ctx, 0, nil); err != nil {
			t.Errorf("Disconnect: %v", err)
		}
		if !errors.Is(pub.Err(), client.ErrClosed) {
			t.Errorf("Err after Disconnect: %v", pub.Err())
		}
	})
}

// TestRetained checks that a retained message reaches a later subscriber
// with the retain flag, and that an empty retained message clears it.
func TestRetained(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		ctx := testContext(t)
		topic := uniqueID("ret") + "/x"
		pub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("pub"), CleanStart: true})
		if err := pub.Publish(ctx, &client.Message{Topic: topic, QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
			t.Fatal(err)
		}
		in := newInbox()
		sub, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("sub"), CleanStart: true, OnMessage: in.handler})
		if _, err := sub.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 1}); err != nil {
			t.Fatal(err)
		}
		m := in.next(t)
		if !m.Retain || string(m.Payload) != "kept" || m.QoS != 1 {
			t.Fatalf("got %q retain %v QoS %d", m.Payload, m.Retain, m.QoS)
		}
		// A live message is not flagged retained.
		if err := pub.Publish(ctx, &client.Message{Topic: topic, QoS: 1, Retain: true}); err != nil {
			t.Fatal(err)
		}
		if m := in.next(t); m.Retain || len(m.Payload) != 0 {
			t.Fatalf("live message: retain %v payload %q", m.Retain, m.Payload)
		}
		sub2in := newInbox()
		sub2, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("sub"), CleanStart: true, OnMessage: sub2in.handler})
		if _, err := sub2.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 1}); err != nil {
			t.Fatal(err)
		}
		sub2in.none(t, 200*time.Millisecond)
	})
}

// TestWill checks that the will is published when the connection closes
// without DISCONNECT, not after a normal DISCONNECT, and (MQTT 5) after a
// DISCONNECT with reason 0x04.
func TestWill(t *testing.T) {
	t.Parallel()
	eachServerVersion(t, servers(t, broker.Config{}), func(t *testing.T, srv server, ver version) {
		ctx := testContext(t)
		topic := uniqueID("will") + "/gone"
		in := newInbox()
		watcher, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("w"), CleanStart: true, OnMessage: in.handler})
		if _, err := watcher.Subscribe(ctx, client.Subscription{Filter: topic, QoS: 2}); err != nil {
			t.Fatal(err)
		}
		opts := client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("dying"), CleanStart: true,
			Will: &packet.Will{Topic: topic, Payload: []byte("bye"), QoS: 1}}
		if ver.v == packet.Version5 {
			opts.Will.Properties.SetString(packet.PropContentType, "text/plain")
		}

		// Normal DISCONNECT: no will.
		c, _ := dial(t, opts)
		if err := c.Disconnect(ctx, packet.NormalDisconnection, nil); err != nil {
			t.Fatal(err)
		}
		in.none(t, 200*time.Millisecond)

		// Abnormal close: the will.
		c, _ = dial(t, opts)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		m := in.next(t)
		if m.Topic != topic || string(m.Payload) != "bye" || m.QoS != 1 {
			t.Fatalf("will: %q %q QoS %d", m.Topic, m.Payload, m.QoS)
		}
		if ver.v == packet.Version5 && m.Properties.ContentType != "text/plain" {
			t.Errorf("will Content Type %q", m.Properties.ContentType)
		}

		if ver.v == packet.Version5 {
			c, _ = dial(t, opts)
			if err := c.Disconnect(ctx, packet.DisconnectWithWill, nil); err != nil {
				t.Fatal(err)
			}
			if m := in.next(t); string(m.Payload) != "bye" {
				t.Fatalf("will after 0x04: %q", m.Payload)
			}
		}
	})
}

// TestConnectRefused checks the *ConnectError of a refused CONNECT.
func TestConnectRefused(t *testing.T) {
	t.Parallel()
	srvs := []server{
		{"midge", testutil.StartBroker(t, broker.Config{}).Addr},
		{"mosquitto", startMosquitto(t, "allow_anonymous false")},
	}
	eachServerVersion(t, srvs, func(t *testing.T, srv server, ver version) {
		c, ack, err := client.Dial(testContext(t), client.Options{Address: srv.addr, ProtocolVersion: ver.v, ClientID: uniqueID("anon")})
		if err == nil {
			c.Close()
			t.Fatal("anonymous client admitted")
		}
		var ce *client.ConnectError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v (%T), want *ConnectError", err, err)
		}
		if ack == nil || ack.ReasonCode != ce.Code {
			t.Errorf("CONNACK %+v with error code %v", ack, ce.Code)
		}
		want := packet.ConnackV3NotAuthorized
		if ver.v == packet.Version5 {
			if ce.Code != packet.NotAuthorized {
				t.Errorf("code %v, want Not authorized", ce.Code)
			}
		} else if ce.Code != want {
			t.Errorf("code %v, want %v", ce.Code, want)
		}
		if ce.ReturnCode != want {
			t.Errorf("ReturnCode %v, want %v", ce.ReturnCode, want)
		}
		if got := client.ReturnCodeText(ce.ReturnCode); got != "Connection Refused: not authorised." {
			t.Errorf("text %q", got)
		}
		t.Log(err)
	})
}

// TestSessionTakenOver checks that the server's DISCONNECT reason code
// (MQTT 5) ends the client and is reported by Err.
func TestSessionTakenOver(t *testing.T) {
	t.Parallel()
	eachServer(t, servers(t, broker.Config{}), func(t *testing.T, srv server) {
		id := uniqueID("twin")
		first, _ := dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, ClientID: id})
		dial(t, client.Options{Address: srv.addr, ProtocolVersion: packet.Version5, ClientID: id})
		select {
		case <-first.Done():
		case <-time.After(timeout):
			t.Fatal("first client still running")
		}
		// Mosquitto 2.0.11 closes the connection without DISCONNECT.
		var re *client.ReasonError
		if srv.name == "midge" && (!errors.As(first.Err(), &re) || re.Code != packet.SessionTakenOver || re.Type != packet.TypeDisconnect) {
			t.Fatalf("Err %v, want DISCONNECT Session taken over", first.Err())
		}
		if !errors.Is(first.Err(), client.ErrConnectionLost) {
			t.Errorf("Err %v does not match ErrConnectionLost", first.Err())
		}
		if err := first.Publish(testContext(t), &client.Message{Topic: "x"}); !errors.Is(err, client.ErrConnectionLost) {
			t.Errorf("Publish after the end: %v", err)
		}
	})
}

// TestDialErrors checks errors before any CONNACK.
func TestDialErrors(t *testing.T) {
	t.Parallel()
	addr := testutil.DeadAddr(t)
	_, _, err := client.Dial(testContext(t), client.Options{Address: addr})
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Errorf("refused dial: %v, want a wrapped *net.OpError", err)
	}
	for _, o := range []client.Options{
		{Address: "gopher://x"},
		{ProtocolVersion: 6},
		{Password: []byte("pw")},
		{Will: &packet.Will{Topic: "a/#"}},
	} {
		_, _, err := client.Dial(testContext(t), o)
		var opt *client.OptionError
		if !errors.As(err, &opt) {
			t.Errorf("%+v: %v, want *OptionError", o, err)
		}
	}

	// A server that never answers: ConnectTimeout.
	fs := newFakeServer(t)
	start := time.Now()
	_, _, err = client.Dial(testContext(t), client.Options{Address: fs.Addr, ConnectTimeout: 200 * time.Millisecond})
	if err == nil || time.Since(start) > timeout/2 {
		t.Errorf("silent server: %v after %v", err, time.Since(start))
	}
}
