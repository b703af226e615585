package dynsec_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestACLOrder checks Mosquitto's order of evaluation over TCP: the
// client's own roles by priority, then its groups by priority and their
// roles, ACL priorities within a role, the first match deciding.
func TestACLOrder(t *testing.T) {
	e := newEnv(t)
	e.ok(t,
		`{"command":"setDefaultACLAccess","acls":[{"acltype":"subscribe","allow":true}]}`,
		`{"command":"createClient","username":"sensor","password":"pw","clientid":"s1"}`,
		// Role "low" allows a/x; role "high" (higher link priority) denies it.
		`{"command":"createRole","rolename":"low","acls":[{"acltype":"publishClientSend","topic":"a/#","allow":true}]}`,
		`{"command":"createRole","rolename":"high","acls":[{"acltype":"publishClientSend","topic":"a/x","allow":false},`+
			`{"acltype":"publishClientSend","topic":"b/+","allow":true},`+
			`{"acltype":"publishClientSend","topic":"b/deny","priority":10,"allow":false}]}`,
		`{"command":"addClientRole","username":"sensor","rolename":"low","priority":1}`,
		`{"command":"addClientRole","username":"sensor","rolename":"high","priority":2}`,
		// Groups: g-first (priority 5) allows c/x, g-second (1) denies it;
		// the client's own roles come before either.
		`{"command":"createRole","rolename":"c-allow","acls":[{"acltype":"publishClientSend","topic":"c/#","allow":true},{"acltype":"publishClientSend","topic":"own/#","allow":true}]}`,
		`{"command":"createRole","rolename":"c-deny","acls":[{"acltype":"publishClientSend","topic":"c/#","allow":false}]}`,
		`{"command":"createRole","rolename":"own-deny","acls":[{"acltype":"publishClientSend","topic":"own/#","allow":false}]}`,
		`{"command":"createGroup","groupname":"g-first","roles":[{"rolename":"c-allow"}]}`,
		`{"command":"createGroup","groupname":"g-second","roles":[{"rolename":"c-deny"}]}`,
		`{"command":"addGroupClient","groupname":"g-second","username":"sensor","priority":1}`,
		`{"command":"addGroupClient","groupname":"g-first","username":"sensor","priority":5}`,
		`{"command":"addClientRole","username":"sensor","rolename":"own-deny"}`,
		// Patterns.
		`{"command":"createRole","rolename":"pat","acls":[{"acltype":"publishClientSend","topic":"dev/%c/out","allow":true},`+
			`{"acltype":"publishClientSend","topic":"user/%u/#","allow":true}]}`,
		`{"command":"addClientRole","username":"sensor","rolename":"pat"}`,
	)
	c := e.login(t, 5, "s1", "sensor", "pw")
	for i, tc := range []struct {
		topic string
		want  packet.ReasonCode
	}{
		{"a/x", packet.NotAuthorized},         // high's deny before low's allow
		{"a/y", packet.NoMatchingSubscribers}, // low's allow
		{"b/ok", packet.NoMatchingSubscribers},
		{"b/deny", packet.NotAuthorized},      // priority 10 deny before the allow
		{"c/x", packet.NoMatchingSubscribers}, // g-first before g-second
		{"own/x", packet.NotAuthorized},       // own role before group roles
		{"dev/s1/out", packet.NoMatchingSubscribers},
		{"dev/s2/out", packet.NotAuthorized},
		{"user/sensor/t", packet.NoMatchingSubscribers},
		{"user/other/t", packet.NotAuthorized},
		{"nothing", packet.NotAuthorized}, // default publishClientSend deny
	} {
		if got := pub(t, c, uint16(i+1), tc.topic); got != tc.want {
			t.Errorf("publish %s: %v, want %v", tc.topic, got, tc.want)
		}
	}
	// Swapping the group priorities changes the answer.
	e.ok(t, `{"command":"modifyGroup","groupname":"g-second","clients":[{"username":"sensor","priority":9}]}`)
	testutilExpectKick(t, c)
	c = e.login(t, 5, "s1", "sensor", "pw")
	if got := pub(t, c, 1, "c/x"); got != packet.NotAuthorized {
		t.Errorf("publish c/x after the priorities changed: %v", got)
	}
}

// testutilExpectKick expects DISCONNECT 0x98 (Administrative action).
func testutilExpectKick(t *testing.T, c interface{ ExpectClosed() []packet.Packet }) {
	t.Helper()
	ps := c.ExpectClosed()
	if len(ps) == 0 {
		t.Fatal("closed without DISCONNECT")
	}
	d, ok := ps[len(ps)-1].(*packet.Disconnect)
	if !ok || d.ReasonCode != packet.AdministrativeAction {
		t.Fatalf("got %v, want DISCONNECT 0x98", ps)
	}
}

// TestACLSubscribe checks subscriptions: literal and pattern ACLs, a
// pattern covering the requested filter, allowwildcardsubs, and delivery
// checked with publishClientReceive.
func TestACLSubscribe(t *testing.T) {
	e := newEnvRole(t,
		`{"acltype":"subscribeLiteral","topic":"simple/topic","allow":true}`,
		`{"acltype":"subscribePattern","topic":"single/+/topic","allow":true}`,
		`{"acltype":"subscribePattern","topic":"multi/#","allow":true}`,
		`{"acltype":"subscribePattern","topic":"multi/denied/#","priority":5,"allow":false}`,
		`{"acltype":"subscribePattern","topic":"sub/%c/allowed","allow":true}`,
		`{"acltype":"publishClientSend","topic":"#","allow":true}`,
		`{"acltype":"publishClientReceive","topic":"multi/topic/denied","allow":false}`,
	)
	c := e.login(t, 5, "cid", "u", "pw")
	for i, tc := range []struct {
		filter string
		want   packet.ReasonCode
	}{
		{"simple/topic", 1},
		{"simple/+", packet.NotAuthorized}, // a literal matches its own text only
		{"single/x/topic", 1},
		{"single/+/topic", 1},
		{"single/#", packet.NotAuthorized}, // not covered by single/+/topic
		{"multi/a/+", 1},
		{"multi/#", 1},
		{"multi/denied/x", packet.NotAuthorized},
		{"sub/cid/allowed", 1},
		{"sub/other/allowed", packet.NotAuthorized},
	} {
		if got := sub(t, c, uint16(i+1), tc.filter); got != tc.want {
			t.Errorf("subscribe %s: %v, want %v", tc.filter, got, tc.want)
		}
	}
	// Delivery: multi/# is subscribed, but receiving multi/topic/denied is
	// denied.
	pubber := e.login(t, 5, "pubber", "u", "pw")
	if got := pub(t, pubber, 50, "multi/topic/denied"); got != packet.Success && got != packet.NoMatchingSubscribers {
		t.Fatalf("publish: %v", got)
	}
	if got := pub(t, pubber, 51, "multi/topic/ok"); got != packet.Success {
		t.Fatalf("publish: %v", got)
	}
	for {
		p, ok := c.Next().(*packet.Publish)
		if !ok {
			continue
		}
		if p.Topic != "multi/topic/ok" {
			t.Fatalf("received %s", p.Topic)
		}
		break
	}

	// allowwildcardsubs false denies any wildcard subscription, first.
	e.ok(t, `{"command":"modifyRole","rolename":"r","allowwildcardsubs":false}`)
	testutilExpectKick(t, c)
	c = e.login(t, 5, "cid", "u", "pw")
	if got := sub(t, c, 1, "multi/#"); got != packet.NotAuthorized {
		t.Errorf("wildcard subscription with allowwildcardsubs false: %v", got)
	}
	if got := sub(t, c, 2, "multi/x"); got != 1 {
		t.Errorf("plain subscription with allowwildcardsubs false: %v", got)
	}
}

// TestDefaultsAndAnonymous checks the four default accesses, that
// $CONTROL is never granted by one, the anonymous group, and that a user
// dynamic security does not know is left to the rest of the chain.
func TestDefaultsAndAnonymous(t *testing.T) {
	e := newEnvAnon(t, true)
	anon, ack := e.try(t, 5, "anon", "", "", false)
	if ack.ReasonCode != packet.Success {
		t.Fatalf("anonymous CONNACK %v", ack.ReasonCode)
	}
	if got := pub(t, anon, 1, "t"); got != packet.NotAuthorized {
		t.Errorf("default publishClientSend deny: %v", got)
	}
	if got := sub(t, anon, 2, "t"); got != packet.NotAuthorized {
		t.Errorf("default subscribe deny: %v", got)
	}
	e.ok(t, `{"command":"setDefaultACLAccess","acls":[{"acltype":"publishClientSend","allow":true},{"acltype":"subscribe","allow":true}]}`)
	if got := pub(t, anon, 3, "t"); got != packet.NoMatchingSubscribers {
		t.Errorf("default publishClientSend allow: %v", got)
	}
	if got := sub(t, anon, 4, "t"); got != 1 {
		t.Errorf("default subscribe allow: %v", got)
	}
	if got := pub(t, anon, 5, "$CONTROL/dynamic-security/v1"); got != packet.NotAuthorized {
		t.Errorf("$CONTROL granted by a default: %v", got)
	}
	// The anonymous group's roles apply to anonymous clients.
	e.ok(t,
		`{"command":"createRole","rolename":"no-t","acls":[{"acltype":"publishClientSend","topic":"t","allow":false}]}`,
		`{"command":"addGroupRole","groupname":"unauthenticated","rolename":"no-t"}`,
	)
	testutilExpectKick(t, anon)
	anon, _ = e.try(t, 5, "anon", "", "", false)
	if got := pub(t, anon, 1, "t"); got != packet.NotAuthorized {
		t.Errorf("anonymous group's deny: %v", got)
	}
	if got := pub(t, anon, 2, "u"); got != packet.NoMatchingSubscribers {
		t.Errorf("default allow for the anonymous client: %v", got)
	}

	// Authorize directly: an unknown user defers.
	d := e.ds.Explain(context.Background(), &broker.Client{ID: "x", Username: "stranger", HasUsername: true}, "t", broker.Write)
	if d.Verdict != broker.Defer || !strings.Contains(d.Reason, "no client") {
		t.Errorf("unknown user: %+v", d)
	}
	d = e.ds.Explain(context.Background(), &broker.Client{ID: "anon"}, "t", broker.Write)
	if d.Verdict != broker.Deny || !strings.Contains(d.Rule, "publishClientSend deny t") {
		t.Errorf("anonymous explanation: %+v", d)
	}
}

// TestAuthentication checks passwords, disabled clients and client ids.
func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.ok(t, `{"command":"createClient","username":"u","password":"pw","clientid":"only"}`,
		`{"command":"createClient","username":"nopw"}`)
	for _, tc := range []struct {
		id, user, pw string
		want         packet.ReasonCode
	}{
		{"only", "u", "pw", packet.Success},
		{"only", "u", "wrong", packet.NotAuthorized},
		{"other", "u", "pw", packet.NotAuthorized},
		{"x", "nopw", "", packet.NotAuthorized},
	} {
		_, ack := e.try(t, 5, tc.id, tc.user, tc.pw, true)
		if ack.ReasonCode != tc.want {
			t.Errorf("%s/%s/%s: %v, want %v", tc.id, tc.user, tc.pw, ack.ReasonCode, tc.want)
		}
	}
	c := e.login(t, 4, "only", "u", "pw")
	e.ok(t, `{"command":"disableClient","username":"u"}`)
	c.ExpectClosed() // MQTT 3.1.1: closed without DISCONNECT
	if _, ack := e.try(t, 5, "only", "u", "pw", true); ack.ReasonCode != packet.NotAuthorized {
		t.Errorf("disabled client: %v", ack.ReasonCode)
	}
	e.ok(t, `{"command":"enableClient","username":"u"}`)
	e.login(t, 5, "only", "u", "pw")
}

// TestKicks checks that a change disconnects exactly the clients it
// concerns, after the admin has its response.
func TestKicks(t *testing.T) {
	e := newEnv(t)
	e.ok(t, `{"command":"createClient","username":"a","password":"pw"}`,
		`{"command":"createClient","username":"b","password":"pw"}`,
		`{"command":"createRole","rolename":"r"}`,
		`{"command":"createGroup","groupname":"g"}`,
		`{"command":"addGroupClient","groupname":"g","username":"b"}`)
	a := e.login(t, 5, "a1", "a", "pw")
	b := e.login(t, 5, "b1", "b", "pw")
	e.ok(t, `{"command":"addClientRole","username":"a","rolename":"r"}`)
	testutilExpectKick(t, a)
	b.ExpectNothing(50 * time.Millisecond)
	e.ok(t, `{"command":"addGroupRole","groupname":"g","rolename":"r"}`)
	testutilExpectKick(t, b)
	a = e.login(t, 5, "a1", "a", "pw")
	b = e.login(t, 5, "b1", "b", "pw")
	e.ok(t, `{"command":"addRoleACL","rolename":"r","acltype":"publishClientSend","topic":"x","allow":true}`)
	testutilExpectKick(t, a)
	testutilExpectKick(t, b)
	// The admin changing its own rights gets the response before the kick.
	resp := e.one(t, `{"command":"addClientRole","username":"admin","rolename":"r"}`)
	if resp["error"] != nil {
		t.Fatal(resp)
	}
	testutilExpectKick(t, e.admin)
}

// TestPatternLevels checks %c and %u as Mosquitto 2.1 substitutes them:
// only a whole level is a pattern ("x%cy" is plain text), and a client id
// that would span levels or be a wildcard never matches.
func TestPatternLevels(t *testing.T) {
	e := newEnvRole(t,
		`{"acltype":"publishClientSend","topic":"p/%c","allow":true}`,
		`{"acltype":"publishClientSend","topic":"q/x%cy","allow":true}`,
		`{"acltype":"publishClientSend","topic":"%u/in","allow":true}`,
		`{"acltype":"subscribePattern","topic":"s/%u/#","allow":true}`,
		`{"acltype":"subscribePattern","topic":"t/x%u","allow":true}`,
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

// TestACLUnsubscribe checks unsubscribeLiteral and unsubscribePattern: a
// denied filter stays subscribed, with 0x87 in an MQTT 5 UNSUBACK (and a
// plain UNSUBACK in MQTT 3.1.1), as Mosquitto answers; the unsubscribe
// default decides the rest.
func TestACLUnsubscribe(t *testing.T) {
	e := newEnvRole(t,
		`{"acltype":"subscribePattern","topic":"#","allow":true}`,
		`{"acltype":"publishClientSend","topic":"#","allow":true}`,
		`{"acltype":"unsubscribeLiteral","topic":"keep/lit","allow":false}`,
		`{"acltype":"unsubscribePattern","topic":"keep/%c/#","allow":false}`,
		`{"acltype":"unsubscribePattern","topic":"keep/other/#","allow":true}`,
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
