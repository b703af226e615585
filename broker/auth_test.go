package broker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/midge-mqtt/midge/broker"
)

// says is a link that always gives the same verdict.
type says broker.Verdict

func (v says) Authenticate(context.Context, *broker.Client, []byte, bool) (broker.Verdict, error) {
	return broker.Verdict(v), nil
}

func (v says) Authorize(context.Context, *broker.Client, string, broker.Access) broker.Verdict {
	return broker.Verdict(v)
}

// brokenAuth is an Authenticator that cannot check.
type brokenAuth struct{}

func (brokenAuth) Authenticate(context.Context, *broker.Client, []byte, bool) (broker.Verdict, error) {
	return broker.Defer, errors.New("backend down")
}

// TestSecurityChains checks the chains against Mosquitto's
// mosquitto_unpwd_check and mosquitto_acl_check: the first verdict other
// than Defer decides; without links allow_anonymous decides for everyone and
// everything is authorized; when every link defers only an anonymous client
// with allow_anonymous gets in, and nothing is authorized. An empty Slot is
// no link.
func TestSecurityChains(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	named := &broker.Client{ID: "c", Username: "u", HasUsername: true}
	anon := &broker.Client{ID: "c"}
	allow, deny, def := says(broker.Allow), says(broker.Deny), says(broker.Defer)
	empty := broker.NewSlot(nil)
	for _, tc := range []struct {
		name        string
		anonymous   bool
		links       []broker.Authenticator
		named, anon bool // admitted
		azLinks     []broker.Authorizer
		authorized  bool
	}{
		{"no links, anonymous allowed", true, nil, true, true, nil, true},
		{"no links, anonymous refused", false, nil, false, false, nil, true},
		{"empty slots are no links", false, []broker.Authenticator{empty}, false, false, []broker.Authorizer{empty}, true},
		{"empty slot, anonymous allowed", true, []broker.Authenticator{empty}, true, true, []broker.Authorizer{empty}, true},
		{"all defer", true, []broker.Authenticator{def, empty, def}, false, true, []broker.Authorizer{def, def}, false},
		{"all defer, anonymous refused", false, []broker.Authenticator{def}, false, false, []broker.Authorizer{def}, false},
		{"first opinion wins: allow", false, []broker.Authenticator{def, allow, deny}, true, true, []broker.Authorizer{def, allow, deny}, true},
		{"first opinion wins: deny", true, []broker.Authenticator{empty, deny, allow}, false, false, []broker.Authorizer{empty, deny, allow}, false},
		{"slot occupant decides", false, []broker.Authenticator{broker.NewSlot(allow)}, true, true, []broker.Authorizer{broker.NewSlot(deny)}, false},
	} {
		sec := &broker.Security{AllowAnonymous: tc.anonymous, Authenticators: tc.links, Authorizers: tc.azLinks}
		if ok, err := sec.Authenticate(ctx, named, []byte("pw"), true); err != nil || ok != tc.named {
			t.Errorf("%s: client with a user name admitted %v, %v; want %v", tc.name, ok, err, tc.named)
		}
		if ok, err := sec.Authenticate(ctx, anon, nil, false); err != nil || ok != tc.anon {
			t.Errorf("%s: anonymous client admitted %v, %v; want %v", tc.name, ok, err, tc.anon)
		}
		if got := sec.Authorize(ctx, named, "a/b", broker.Read); got != tc.authorized {
			t.Errorf("%s: authorized %v, want %v", tc.name, got, tc.authorized)
		}
		if d := sec.Explain(ctx, named, "a/b", broker.Read); d.Allowed != tc.authorized || d.Reason == "" {
			t.Errorf("%s: Explain %+v, want allowed %v", tc.name, d, tc.authorized)
		}
	}
	sec := &broker.Security{AllowAnonymous: true, Authenticators: []broker.Authenticator{brokenAuth{}, allow}}
	if ok, err := sec.Authenticate(ctx, named, nil, false); ok || err == nil {
		t.Errorf("a link's error: %v, %v; want refused with the error", ok, err)
	}
}

// TestSlotSwap replaces a Slot's occupant: the next question gets the new
// answer, and emptying the slot removes the link.
func TestSlotSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &broker.Client{ID: "c", Username: "u", HasUsername: true}
	slot := broker.NewSlot(says(broker.Deny))
	sec := &broker.Security{Authorizers: []broker.Authorizer{slot}}
	if sec.Authorize(ctx, c, "t", broker.Write) {
		t.Fatal("denying occupant allowed")
	}
	slot.Store(says(broker.Allow))
	if !sec.Authorize(ctx, c, "t", broker.Write) {
		t.Fatal("allowing occupant denied")
	}
	slot.Store(says(broker.Defer))
	if sec.Authorize(ctx, c, "t", broker.Write) {
		t.Fatal("a deferring link allowed")
	}
	slot.Store(nil)
	if !sec.Authorize(ctx, c, "t", broker.Write) || slot.Load() != nil {
		t.Fatal("an empty slot is still a link")
	}
}
