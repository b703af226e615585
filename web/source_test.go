package web_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/web"
)

// fakeSource is a web.Source that is not a broker, as midge explore's
// client is: it has stored history, describes itself, and records what
// the dashboard publishes.
type fakeSource struct {
	mu        sync.Mutex // guards obs and published
	obs       func(*broker.Message)
	published []*broker.Message
}

func (f *fakeSource) Observe(fn func(*broker.Message)) func() {
	f.mu.Lock()
	f.obs = fn
	f.mu.Unlock()
	return func() {}
}
func (f *fakeSource) RetainedMessages(string, func(*broker.Message) bool) {}
func (f *fakeSource) Publish(_ context.Context, m *broker.Message) error {
	f.mu.Lock()
	f.published = append(f.published, m)
	obs := f.obs
	f.mu.Unlock()
	obs(m) // the client's subscription brings it back
	return nil
}
func (f *fakeSource) DeleteRetained(context.Context, string) (int, error) { return 0, nil }
func (f *fakeSource) Sessions() []broker.SessionInfo                      { return nil }
func (f *fakeSource) Disconnect(string) bool                              { return false }
func (f *fakeSource) Stats() broker.Stats                                 { return broker.Stats{ClientsConnected: 7} }
func (f *fakeSource) SysValues() map[string]string {
	return map[string]string{"$SYS/broker/clients/connected": "7"}
}
func (f *fakeSource) History(fn func(*broker.Message) bool) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i, v := range []string{"1", "2"} {
		if !fn(&broker.Message{Topic: "stored/t", Payload: []byte(v), QoS: 1, Received: at.Add(time.Duration(i) * time.Second)}) {
			return
		}
	}
}
func (f *fakeSource) Describe() web.SourceInfo {
	return web.SourceInfo{Kind: "client", Server: "tcp://example:1883", Connected: true}
}

// TestClientSource serves the dashboard from a Source that is not a
// broker: the stored history seeds the topics, /api/v1/me describes the
// source, and a publish from the page goes through the source.
func TestClientSource(t *testing.T) {
	src := &fakeSource{}
	w, srv := serve(t, web.Config{Source: src, BatchInterval: 10 * time.Millisecond, StatsInterval: 20 * time.Millisecond}, web.HandlerConfig{})
	e := &env{t: t, web: w, srv: srv}
	u := e.anonymous()
	var me struct {
		CSRF   string
		Source web.SourceInfo
	}
	if st := u.do("GET", "/api/v1/me", nil, &me); st != 200 || me.Source.Kind != "client" || me.Source.Server != "tcp://example:1883" {
		t.Fatalf("me: %d %+v", st, me)
	}
	u.csrf = me.CSRF
	tr, st := u.topic("stored/t")
	if st != 200 || len(tr.History) != 2 || tr.History[1].Payload != "2" || tr.Count != 0 {
		t.Errorf("seeded history: %d %+v", st, tr)
	}
	if st := u.do("POST", "/api/v1/publish", map[string]any{"topic": "a/b", "payload": "x", "qos": 1}, nil, "Origin", srv.URL); st != 200 {
		t.Fatalf("publish: %d", st)
	}
	src.mu.Lock()
	n := len(src.published)
	src.mu.Unlock()
	if n != 1 {
		t.Errorf("the source published %d messages", n)
	}
	testutil.WaitFor(t, "the published message on the dashboard", func() bool { tr, _ := u.topic("a/b"); return len(tr.History) == 1 })

	// The broker's own dashboard says so.
	b := start(t, false)
	var bme struct{ Source web.SourceInfo }
	b.anonymous().do("GET", "/api/v1/me", nil, &bme)
	if bme.Source.Kind != "broker" {
		t.Errorf("a broker's dashboard says its source is %+v", bme.Source)
	}
}
