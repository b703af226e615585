package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/broker"
)

func TestPasswordFileAuthenticate(t *testing.T) {
	t.Parallel()
	pf, err := auth.ParsePasswords(strings.NewReader("alice:"+hashOf(t, "pw")+"\n"), "pw")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alice := &broker.Client{ID: "c", Username: "alice", HasUsername: true}
	bob := &broker.Client{ID: "c", Username: "bob", HasUsername: true}
	for _, tc := range []struct {
		c           *broker.Client
		password    string
		hasPassword bool
		want        bool
	}{
		{alice, "pw", true, true},
		{alice, "px", true, false},
		{alice, "", false, false}, // a username without a password
		{alice, "pw\x00junk", true, false},
		{bob, "pw", true, false},
		{bob, "", false, false},
	} {
		v, err := pf.Authenticate(ctx, tc.c, []byte(tc.password), tc.hasPassword)
		if got := v == broker.Allow; err != nil || got != tc.want {
			t.Errorf("Authenticate(%s, %q, %v) = %v, %v; want %v", tc.c.Username, tc.password, tc.hasPassword, got, err, tc.want)
		}
	}
}

func TestACLAuthorize(t *testing.T) {
	t.Parallel()
	a := parseACL(t, "user u\ntopic read r/#\ntopic write w/#\n")
	ctx := context.Background()
	u := &broker.Client{ID: "c", Username: "u", HasUsername: true}
	anon := &broker.Client{ID: "c"}
	checker := auth.SubscribeChecker{ACL: a}
	for _, tc := range []struct {
		c           *broker.Client
		topic       string
		acc         broker.Access
		plain, subc bool
	}{
		{u, "r/1", broker.Read, true, true},
		{u, "r/1", broker.Write, false, false},
		{u, "w/1", broker.Write, true, true},
		{anon, "r/1", broker.Read, false, false},
		{u, "r/#", broker.Subscribe, true, true},
		{u, "w/#", broker.Subscribe, true, false}, // write only: can never deliver
		{u, "#", broker.Subscribe, true, true},
		{anon, "#", broker.Subscribe, true, false},
		{u, "r/1", broker.Access(64), false, false},
	} {
		if got := a.Authorize(ctx, tc.c, tc.topic, tc.acc) == broker.Allow; got != tc.plain {
			t.Errorf("Authorize(%q, %q, %v) = %v, want %v", tc.c.Username, tc.topic, tc.acc, got, tc.plain)
		}
		if got := checker.Authorize(ctx, tc.c, tc.topic, tc.acc) == broker.Allow; got != tc.subc {
			t.Errorf("SubscribeChecker.Authorize(%q, %q, %v) = %v, want %v", tc.c.Username, tc.topic, tc.acc, got, tc.subc)
		}
	}
}
