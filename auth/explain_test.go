package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	a := parseACL(t, `topic read public/#
user alice
topic readwrite home/#
topic deny home/secret
user bob
topic read home/livingroom/+
pattern write devices/%c/#
pattern deny devices/%c/locked
pattern read users/%u/#
`)
	tests := []struct {
		name                 string
		user                 string
		hasUser              bool
		client, topic        string
		acc                  broker.Access
		allowed              bool
		rule, section, inWhy string
	}{
		{name: "own allow", user: "alice", hasUser: true, client: "c", topic: "home/kitchen/t", acc: broker.Write,
			allowed: true, rule: "topic readwrite home/#", section: `user "alice"`, inWhy: "grants write"},
		{name: "own deny first", user: "alice", hasUser: true, client: "c", topic: "home/secret", acc: broker.Read,
			rule: "topic deny home/secret", section: `user "alice"`, inWhy: "deny rule"},
		{name: "read only", user: "bob", hasUser: true, client: "c", topic: "home/livingroom/temperature", acc: broker.Write,
			inWhy: "no pattern grants write"},
		{name: "pattern with client id", user: "bob", hasUser: true, client: "dev1", topic: "devices/dev1/state", acc: broker.Write,
			allowed: true, rule: "pattern write devices/%c/#", section: "patterns", inWhy: `"devices/dev1/#"`},
		{name: "deny pattern", user: "bob", hasUser: true, client: "dev1", topic: "devices/dev1/locked", acc: broker.Write,
			rule: "pattern deny devices/%c/locked", section: "patterns"},
		{name: "anonymous", client: "x", topic: "public/news", acc: broker.Read,
			allowed: true, rule: "topic read public/#", section: "before the first user line"},
		{name: "anonymous and %u", client: "x", topic: "users/x/a", acc: broker.Read, inWhy: "%u never apply"},
		{name: "unknown user", user: "eve", hasUser: true, client: "x", topic: "home/a", acc: broker.Read, inWhy: `no user line for "eve"`},
		{name: "wildcard client", user: "bob", hasUser: true, client: "a+b", topic: "devices/a+b/x", acc: broker.Write, inWhy: "'+' or '#'"},
		{name: "subscribe", user: "eve", hasUser: true, topic: "#", acc: broker.Subscribe, allowed: true, inWhy: "every subscription"},
	}
	for _, tt := range tests {
		d := a.Explain(context.Background(), &broker.Client{Username: tt.user, HasUsername: tt.hasUser, ID: tt.client}, tt.topic, tt.acc)
		if d.Allowed != tt.allowed || d.Rule != tt.rule || d.Section != tt.section || !strings.Contains(d.Reason, tt.inWhy) {
			t.Errorf("%s: got %+v; want allowed %v, rule %q, section %q, reason containing %q", tt.name, d, tt.allowed, tt.rule, tt.section, tt.inWhy)
		}
		if got := a.Allowed(tt.user, tt.hasUser, tt.client, tt.topic, tt.acc); got != d.Allowed {
			t.Errorf("%s: Explain says %v, Allowed %v", tt.name, d.Allowed, got)
		}
	}
}

// TestExplainAgreesWithAllowed checks Explain against Allowed on every
// combination of the users, client ids and topics of the big ACL file.
func TestExplainAgreesWithAllowed(t *testing.T) {
	t.Parallel()
	a := parseACL(t, aclFile+"\npattern read p/%c/%u/#\npattern deny p/%c/x/#\n")
	users := []string{"", "admin", "alice", "carol", "nobody", "a+b", "spaced name"}
	clients := []string{"", "c1", "x", "c#"}
	topics := []string{"anon/x", "anon/secret", "w/no", "w/yes", "pd/1", "$SYS/broker/uptime", "sp/x",
		"p/c1/alice/t", "p/c1/x/t", "p/x/carol/a", "other"}
	n := 0
	for _, u := range users {
		for _, hasUser := range []bool{false, true} {
			if !hasUser && u != "" {
				continue
			}
			for _, c := range clients {
				for _, tp := range topics {
					for _, acc := range []broker.Access{broker.Read, broker.Write} {
						n++
						want := a.Allowed(u, hasUser, c, tp, acc)
						d := a.Explain(context.Background(), &broker.Client{Username: u, HasUsername: hasUser, ID: c}, tp, acc)
						if d.Allowed != want {
							t.Errorf("user %q (%v) client %q topic %q %v: Explain %+v, Allowed %v", u, hasUser, c, tp, acc, d, want)
						}
						if d.Reason == "" || (d.Rule == "") != (d.Section == "") {
							t.Errorf("user %q client %q topic %q: incomplete %+v", u, c, tp, d)
						}
					}
				}
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d combinations", n)
	}
}
