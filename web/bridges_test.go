package web_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/bridge"
	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/web"
)

// The bridges in /metrics and GET /api/v1/bridges.
func TestBridges(t *testing.T) {
	t.Parallel()
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	since := time.UnixMilli(1700000000000)
	_, srv := serve(t, web.Config{Broker: b.Server, Bridges: func() []bridge.Status {
		return []bridge.Status{{Name: "edge", State: bridge.Connected, Address: "central:1883", Since: since,
			Queued: 3, Sent: 10, Received: 4, Dropped: 1, LastError: "remote: EOF"}}
	}}, web.HandlerConfig{})

	get := func(path string) string { return httpGet(t, srv.URL+path) }
	text := get("/metrics")
	for _, want := range []string{
		`midge_bridge_connected{bridge="edge"} 1`,
		`midge_bridge_messages_queued{bridge="edge"} 3`,
		`midge_bridge_messages_sent_total{bridge="edge"} 10`,
		`midge_bridge_messages_received_total{bridge="edge"} 4`,
		`midge_bridge_messages_dropped_total{bridge="edge"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var got struct {
		Bridges []map[string]any `json:"bridges"`
	}
	if err := json.Unmarshal([]byte(get("/api/v1/bridges")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Bridges) != 1 || got.Bridges[0]["name"] != "edge" || got.Bridges[0]["state"] != "connected" ||
		got.Bridges[0]["address"] != "central:1883" || got.Bridges[0]["sent"] != 10.0 || got.Bridges[0]["last_error"] != "remote: EOF" ||
		got.Bridges[0]["since"] != 1700000000000.0 {
		t.Errorf("bridges %+v", got.Bridges)
	}
}
