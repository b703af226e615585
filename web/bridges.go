package web

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/midge-mqtt/midge/bridge"
)

// bridgeJSON is one bridge in GET /api/v1/bridges.
type bridgeJSON struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Address   string `json:"address"`
	Since     int64  `json:"since"` // Unix milliseconds
	Queued    int    `json:"queued"`
	Sent      uint64 `json:"sent"`
	Received  uint64 `json:"received"`
	Dropped   uint64 `json:"dropped"`
	LastError string `json:"last_error"`
}

// bridgeStatuses returns the bridges' statuses, none without Config.Bridges.
func (s *Server) bridgeStatuses() []bridge.Status {
	if s.cfg.Bridges == nil {
		return nil
	}
	return s.cfg.Bridges()
}

// bridges answers GET /api/v1/bridges (administrators: addresses and
// errors say where the remote brokers are).
func (h *handler) bridges(w http.ResponseWriter, r *http.Request, _ *principal) {
	out := []bridgeJSON{}
	for _, st := range h.s.bridgeStatuses() {
		out = append(out, bridgeJSON{Name: st.Name, State: st.State.String(), Address: st.Address,
			Since: st.Since.UnixMilli(), Queued: st.Queued, Sent: st.Sent, Received: st.Received,
			Dropped: st.Dropped, LastError: st.LastError})
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"bridges": out, "at": time.Now().UnixMilli()})
}

// bridgeMetrics are the per-bridge series of /metrics, labelled bridge.
type bridgeMetrics struct {
	connected, queued, sent, received, dropped *prometheus.Desc
}

func newBridgeMetrics() bridgeMetrics {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"bridge"}, nil)
	}
	return bridgeMetrics{
		connected: d("midge_bridge_connected", "1 while the bridge is connected to its remote broker, else 0."),
		queued:    d("midge_bridge_messages_queued", "Messages waiting in the bridge's local session (queued and in flight)."),
		sent:      d("midge_bridge_messages_sent_total", "Messages the bridge sent to its remote broker."),
		received:  d("midge_bridge_messages_received_total", "Messages the bridge received from its remote broker."),
		dropped:   d("midge_bridge_messages_dropped_total", "Messages dropped for the bridge: its queue full, or too large for the remote."),
	}
}

func (m bridgeMetrics) describe(ch chan<- *prometheus.Desc) {
	ch <- m.connected
	ch <- m.queued
	ch <- m.sent
	ch <- m.received
	ch <- m.dropped
}

func (m bridgeMetrics) collect(s *Server, ch chan<- prometheus.Metric) {
	for _, st := range s.bridgeStatuses() {
		up := 0.0
		if st.State == bridge.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(m.connected, prometheus.GaugeValue, up, st.Name)
		ch <- prometheus.MustNewConstMetric(m.queued, prometheus.GaugeValue, float64(st.Queued), st.Name)
		ch <- prometheus.MustNewConstMetric(m.sent, prometheus.CounterValue, float64(st.Sent), st.Name)
		ch <- prometheus.MustNewConstMetric(m.received, prometheus.CounterValue, float64(st.Received), st.Name)
		ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(st.Dropped), st.Name)
	}
}
