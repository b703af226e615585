package web

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/midge-mqtt/midge/broker"
)

// newRegistry returns the registry /metrics serves: the broker's counters,
// read from broker.Server.Stats at each scrape, the dashboard's own, and the
// Go runtime's and the process's. Each Server has its own registry (no
// global state).
func newRegistry(s *Server) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metric is one value read at scrape time.
type metric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(st *broker.Stats, s *Server) float64
}

// collector reads the broker's statistics once per scrape.
type collector struct {
	s           *Server
	metrics     []metric
	perListener *prometheus.Desc
	bridges     bridgeMetrics  // bridges.go
	cluster     clusterMetrics // cluster.go
}

func newCollector(s *Server) *collector {
	c := &collector{s: s}
	gauge := func(name, help string, v func(*broker.Stats, *Server) float64) {
		c.metrics = append(c.metrics, metric{prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, v})
	}
	counter := func(name, help string, v func(*broker.Stats, *Server) float64) {
		c.metrics = append(c.metrics, metric{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, v})
	}
	gauge("midge_uptime_seconds", "Seconds since the broker started.", func(st *broker.Stats, _ *Server) float64 { return st.Uptime.Seconds() })
	gauge("midge_clients_connected", "Clients connected now.", func(st *broker.Stats, _ *Server) float64 { return float64(st.ClientsConnected) })
	gauge("midge_clients_maximum", "Most clients connected at once since the start.", func(st *broker.Stats, _ *Server) float64 { return float64(st.ClientsMaximum) })
	gauge("midge_sessions", "Sessions, connected or not.", func(st *broker.Stats, _ *Server) float64 { return float64(st.Sessions) })
	gauge("midge_subscriptions", "Subscriptions of all sessions.", func(st *broker.Stats, _ *Server) float64 { return float64(st.Subscriptions) })
	gauge("midge_retained_messages", "Retained messages held.", func(st *broker.Stats, _ *Server) float64 { return float64(st.Retained) })
	counter("midge_messages_received_total", "MQTT control packets received.", func(st *broker.Stats, _ *Server) float64 { return float64(st.MessagesIn) })
	counter("midge_messages_sent_total", "MQTT control packets sent.", func(st *broker.Stats, _ *Server) float64 { return float64(st.MessagesOut) })
	counter("midge_bytes_received_total", "Bytes received from clients.", func(st *broker.Stats, _ *Server) float64 { return float64(st.BytesIn) })
	counter("midge_bytes_sent_total", "Bytes sent to clients.", func(st *broker.Stats, _ *Server) float64 { return float64(st.BytesOut) })
	counter("midge_publish_received_total", "PUBLISH packets received.", func(st *broker.Stats, _ *Server) float64 { return float64(st.PublishIn) })
	counter("midge_publish_sent_total", "PUBLISH packets sent.", func(st *broker.Stats, _ *Server) float64 { return float64(st.PublishOut) })
	counter("midge_publish_bytes_received_total", "Payload bytes of PUBLISH packets received.", func(st *broker.Stats, _ *Server) float64 { return float64(st.PublishBytesIn) })
	counter("midge_publish_bytes_sent_total", "Payload bytes of PUBLISH packets sent.", func(st *broker.Stats, _ *Server) float64 { return float64(st.PublishBytesOut) })
	counter("midge_publish_dropped_total", "Messages dropped for full queues or too large for a client.", func(st *broker.Stats, _ *Server) float64 { return float64(st.Dropped) })
	counter("midge_sockets_accepted_total", "Network connections accepted.", func(st *broker.Stats, _ *Server) float64 { return float64(st.SocketsAccepted) })
	counter("midge_connects_received_total", "CONNECT packets received.", func(st *broker.Stats, _ *Server) float64 { return float64(st.ConnectsReceived) })
	counter("midge_sessions_expired_total", "Sessions ended by their expiry.", func(st *broker.Stats, _ *Server) float64 { return float64(st.SessionsExpired) })
	counter("midge_web_observed_messages_total", "Messages the dashboard was handed.", func(_ *broker.Stats, s *Server) float64 { return float64(s.seen.Load()) })
	counter("midge_web_dropped_messages_total", "Messages the dashboard missed because its queue was full (delivery is not affected).", func(_ *broker.Stats, s *Server) float64 { return float64(s.dropped.Load()) })
	gauge("midge_web_topics", "Topics the dashboard tracks.", func(_ *broker.Stats, s *Server) float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.topics.byName))
	})
	gauge("midge_web_history_bytes", "Memory charged for the dashboard's topic histories.", func(_ *broker.Stats, s *Server) float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(s.topics.bytes)
	})
	gauge("midge_web_event_streams", "Dashboard pages receiving live updates.", func(_ *broker.Stats, s *Server) float64 { return float64(s.subscribers()) })
	c.perListener = prometheus.NewDesc("midge_listener_clients_connected", "Network connections open now, by listener.", []string{"listener"}, nil)
	c.bridges = newBridgeMetrics()
	c.cluster = newClusterMetrics()
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
	ch <- c.perListener
	c.bridges.describe(ch)
	c.cluster.describe(ch)
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.broker.Stats()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&st, c.s))
	}
	for l, n := range st.ListenerConnections {
		ch <- prometheus.MustNewConstMetric(c.perListener, prometheus.GaugeValue, float64(n), l)
	}
	c.bridges.collect(c.s, ch)
	c.cluster.collect(c.s, ch)
}
