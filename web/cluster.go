package web

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/midge-mqtt/midge/cluster"
)

// clusterStatus returns this node's view of its cluster, false when the
// broker is not a cluster node (no Config.Cluster, or it returns false).
func (s *Server) clusterStatus() (cluster.Status, bool) {
	if s.cfg.Cluster == nil {
		return cluster.Status{}, false
	}
	return s.cfg.Cluster()
}

// clusterAPI answers GET /api/v1/cluster (administrators: the addresses
// say where the nodes are): {"enabled": false} on a broker that runs
// alone, else this node's status (cluster.Status, as midge cluster status
// -json prints it).
func (h *handler) clusterAPI(w http.ResponseWriter, r *http.Request, _ *principal) {
	st, ok := h.s.clusterStatus()
	if !ok {
		writeJSON(w, r, http.StatusOK, map[string]any{"enabled": false, "at": time.Now().UnixMilli()})
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"enabled": true, "status": st, "at": time.Now().UnixMilli()})
}

// maxClusterClients bounds the client identifiers GET
// /api/v1/cluster/clients lists.
const maxClusterClients = 1000

// clusterClients answers GET /api/v1/cluster/clients?node=ID
// (administrators): the client identifiers the node owns, as the cluster
// agreed on them, sorted, at most maxClusterClients, with their total.
func (h *handler) clusterClients(w http.ResponseWriter, r *http.Request, _ *principal) {
	node := r.URL.Query().Get("node")
	if node == "" {
		writeError(w, http.StatusBadRequest, "node: the id of a cluster node is required")
		return
	}
	if _, ok := h.s.clusterStatus(); !ok || h.s.cfg.ClusterClients == nil {
		writeError(w, http.StatusNotFound, "this broker is not a cluster node")
		return
	}
	ids, total := h.s.cfg.ClusterClients(node, maxClusterClients)
	if ids == nil {
		ids = []string{}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"node": node, "clients": ids, "total": total})
}

// memberStates are the states midge_cluster_members counts, each always
// present so that a state that empties reads 0.
var memberStates = []string{"alive", "suspect", "dead", "left", "unknown"}

// clusterMetrics are the midge_cluster_* series of /metrics: none when the
// broker is not a cluster node.
type clusterMetrics struct {
	up, members, memberUp, leader, hasLeader, term, lastIndex, commitIndex, appliedIndex *prometheus.Desc
	owners, retained, peerQueued, peerSent, peerDropped, peerConnected                   *prometheus.Desc
}

func newClusterMetrics() clusterMetrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return clusterMetrics{
		up:            d("midge_cluster_node_up", "1: this broker is a running cluster node.", "node"),
		members:       d("midge_cluster_members", "Members this node knows, by memberlist state (unknown: a raft voter the gossip has not told of).", "state"),
		memberUp:      d("midge_cluster_member_up", "1 while a member is alive in this node's view, else 0.", "member", "voter"),
		leader:        d("midge_cluster_is_leader", "1 while this node is the raft leader, else 0."),
		hasLeader:     d("midge_cluster_has_leader", "1 while this node knows a leader, else 0 (a minority side of a partition)."),
		term:          d("midge_cluster_raft_term", "Raft's current term."),
		lastIndex:     d("midge_cluster_raft_last_index", "Index of the last entry of this node's raft log."),
		commitIndex:   d("midge_cluster_raft_commit_index", "Index of the last raft entry known committed."),
		appliedIndex:  d("midge_cluster_raft_applied_index", "Index of the last raft entry applied to this node's state."),
		owners:        d("midge_cluster_client_ids_owned", "Client identifiers claimed in the replicated state."),
		retained:      d("midge_cluster_retained_messages", "Retained messages in the replicated state."),
		peerQueued:    d("midge_cluster_forward_queued", "Messages waiting in the forwarding queue to a peer.", "peer"),
		peerSent:      d("midge_cluster_forward_sent_total", "Messages written to the forwarding stream to a peer.", "peer"),
		peerDropped:   d("midge_cluster_forward_dropped_total", "Messages dropped for a peer: its queue full, or it went away.", "peer"),
		peerConnected: d("midge_cluster_forward_connected", "1 while the forwarding stream to a peer is open, else 0.", "peer"),
	}
}

func (m clusterMetrics) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.up, m.members, m.memberUp, m.leader, m.hasLeader, m.term, m.lastIndex,
		m.commitIndex, m.appliedIndex, m.owners, m.retained, m.peerQueued, m.peerSent, m.peerDropped, m.peerConnected} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m clusterMetrics) collect(s *Server, ch chan<- prometheus.Metric) {
	st, ok := s.clusterStatus()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(m.up, 1, st.NodeID)
	counts := make(map[string]int)
	for _, mb := range st.Members {
		counts[mb.State]++
		voter := "false"
		if mb.Voter {
			voter = "true"
		}
		gauge(m.memberUp, b2f(mb.State == "alive"), mb.ID, voter)
	}
	for _, state := range memberStates {
		gauge(m.members, float64(counts[state]), state)
	}
	gauge(m.leader, b2f(st.State == "Leader"))
	gauge(m.hasLeader, b2f(st.Leader != ""))
	gauge(m.term, float64(st.Term))
	gauge(m.lastIndex, float64(st.LastIndex))
	gauge(m.commitIndex, float64(st.CommitIndex))
	gauge(m.appliedIndex, float64(st.AppliedIndex))
	gauge(m.owners, float64(st.Owners))
	gauge(m.retained, float64(st.Retained))
	for _, p := range st.Peers {
		gauge(m.peerQueued, float64(p.Queued), p.ID)
		counter(m.peerSent, float64(p.Sent), p.ID)
		counter(m.peerDropped, float64(p.Dropped), p.ID)
		gauge(m.peerConnected, b2f(p.Connected), p.ID)
	}
}
