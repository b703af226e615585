package broker_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// routeLog follows Config.OnRoute: the filters held, and every call.
type routeLog struct {
	mu    sync.Mutex // guards held, calls, bad
	held  map[string]bool
	calls []string
	bad   []string // a filter added twice or removed while not held
}

func newRouteLog() *routeLog { return &routeLog{held: make(map[string]bool)} }

func (r *routeLog) onRoute(filter string, added bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held[filter] == added {
		r.bad = append(r.bad, filter)
	}
	if added {
		r.held[filter] = true
		r.calls = append(r.calls, "+"+filter)
	} else {
		delete(r.held, filter)
		r.calls = append(r.calls, "-"+filter)
	}
}

// routes returns the filters held, sorted, and the inconsistent calls.
func (r *routeLog) routes() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.held)), slices.Clone(r.bad)
}

func (r *routeLog) is(t *testing.T, what string, want ...string) {
	t.Helper()
	got, bad := r.routes()
	if !slices.Equal(got, want) || len(bad) > 0 {
		t.Errorf("%s: routes %q (inconsistent %q), want %q", what, got, bad, want)
	}
}

// TestOnRoute checks Config.OnRoute: a filter is reported when its first
// subscriber comes, before the SUBACK, and when its last goes, before the
// UNSUBACK or when the session ends; an offline persistent session's
// subscriptions stay routes, and a restart reports those restored from the
// store.
func TestOnRoute(t *testing.T) {
	st := store.NewMemory()
	rl := newRouteLog()
	cfg := open()
	cfg.Store, cfg.OnRoute = st, rl.onRoute
	b := testutil.StartBroker(t, cfg)

	a := subscriber(t, b, 5, "a", "x/#", 1)
	rl.is(t, "after a's SUBACK", "x/#")
	c := subscriber(t, b, 4, "c", "x/#", 0)
	subscribe(t, c, 2, []packet.Subscription{{Filter: "$share/g/y/+", QoS: 1}}, packet.Properties{}, 1)
	subscribe(t, a, 3, []packet.Subscription{{Filter: "$share/g/y/+", QoS: 1}, {Filter: "$share/h/y/+", QoS: 1}}, packet.Properties{}, 1, 1)
	rl.is(t, "after the SUBACKs", "$share/g/y/+", "$share/h/y/+", "x/#")

	a.Send(&packet.Unsubscribe{PacketID: 4, Filters: []string{"x/#", "$share/h/y/+"}})
	testutil.Expect[*packet.Unsuback](a)
	rl.is(t, "a unsubscribed", "$share/g/y/+", "x/#") // c holds them too

	// An hour's session offline keeps its route; a clean one's go.
	_, p := hourSubscriber(t, b, "p", "p/1", 1)
	disconnect(p)
	disconnect(c)
	waitOffline(t, b, "p")
	testutil.WaitFor(t, "c's routes gone", func() bool {
		got, _ := rl.routes()
		return !slices.Contains(got, "x/#")
	})
	rl.is(t, "c gone, p offline", "$share/g/y/+", "p/1")
	disconnect(a)
	testutil.WaitFor(t, "a's routes gone", func() bool { got, _ := rl.routes(); return len(got) == 1 })
	rl.is(t, "only the offline session", "p/1")

	// A restart on the same store: p's subscription is a route again.
	b.Stop(t)
	rl2 := newRouteLog()
	cfg.OnRoute = rl2.onRoute
	b2 := testutil.StartBroker(t, cfg)
	testutil.WaitFor(t, "the restored route", func() bool { got, _ := rl2.routes(); return len(got) > 0 })
	rl2.is(t, "after the restart", "p/1")
	// A Clean Start ends it.
	connect(t, b2, 5, "p")
	rl2.is(t, "p back with Clean Start")
}

// TestSharedChoiceAndRouteSelected checks Config.SharedChoice (a group it
// refuses gets nothing here, the plain subscribers still do) and
// RouteSelected (only the selected subscriptions get the message).
func TestSharedChoiceAndRouteSelected(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	cfg := open()
	cfg.SharedChoice = func(m *broker.Message, group string) bool {
		mu.Lock()
		defer mu.Unlock()
		asked[group]++
		return !strings.HasPrefix(group, "$share/elsewhere/")
	}
	b := start(t, cfg)
	plain := subscriber(t, b, 5, "plain", "t/#", 0)
	here := subscriber(t, b, 5, "here", "$share/here/t/#", 0)
	away := subscriber(t, b, 5, "away", "$share/elsewhere/t/#", 0)

	pubr := connect(t, b, 5, "pub")
	pub(t, pubr, 1, "t/1", "one", 1, false)
	expectPublish(t, plain, "t/1", "one")
	expectPublish(t, here, "t/1", "one")
	mu.Lock()
	if asked["$share/here/t/#"] != 1 || asked["$share/elsewhere/t/#"] != 1 || len(asked) != 2 {
		t.Errorf("SharedChoice asked %v, want each group once", asked)
	}
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.RouteSelected(ctx, &broker.Message{Topic: "t/2", Payload: []byte("two")},
		broker.Selection{Groups: []string{"$share/elsewhere/t/#"}}); err != nil {
		t.Fatal(err)
	}
	expectPublish(t, away, "t/2", "two")
	if err := b.RouteSelected(ctx, &broker.Message{Topic: "t/3", Payload: []byte("three")},
		broker.Selection{Plain: true}); err != nil {
		t.Fatal(err)
	}
	expectPublish(t, plain, "t/3", "three")
	expectNoMore(t, here, "the group not selected")
	expectNoMore(t, away, "the group SharedChoice refused, and the one not selected")
	expectNoMore(t, plain, "the plain subscriber not selected")
	mu.Lock()
	if len(asked) != 2 || asked["$share/here/t/#"] != 1 {
		t.Errorf("SharedChoice asked for a message of RouteSelected: %v", asked)
	}
	mu.Unlock()
}
