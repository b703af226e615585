package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/web"
)

// httpGet returns the body of a GET of url, failing the test unless the
// status is 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	_, body := testutil.GetOK(t, nil, url)
	return string(body)
}

// The midge_cluster_* series of /metrics and GET /api/v1/cluster, from a
// real two-node cluster; and neither on a broker that runs alone.
func TestCluster(t *testing.T) {
	t.Parallel()
	start := func(id string, join ...string) *cluster.Node {
		n, err := cluster.Start(context.Background(), cluster.Config{Name: "web", NodeID: id, Listen: "127.0.0.1:0",
			Gossip: "127.0.0.1:0", BootstrapExpect: 2, Join: join, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	n := start("w1")
	n2 := start("w2", n.GossipAddr())
	waitUntil := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	}
	waitUntil("a leader and two voters on w1", func() bool {
		s := n.Status()
		return s.Leader != "" && n2.Status().Leader == s.Leader && len(s.Members) == 2 && s.Members[0].Voter && s.Members[1].Voter
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.Claim(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	waitUntil("the claim applied on w1", func() bool { _, ok := n.Owner("c1"); return ok })
	waitUntil("the stream to w2", func() bool { s := n.Status(); return len(s.Peers) == 1 && s.Peers[0].Connected })
	n.Broadcast([]byte("frame"))
	waitUntil("the frame sent", func() bool { return n.Status().Peers[0].Sent == 1 })
	leader := "0"
	if n.Status().State == "Leader" {
		leader = "1"
	}
	b := testutil.StartBroker(t, broker.Config{AllowAnonymous: true})
	_, srv := serve(t, web.Config{Broker: b.Server, Cluster: func() (cluster.Status, bool) { return n.Status(), true },
		ClusterClients: n.Clients}, web.HandlerConfig{})
	text := httpGet(t, srv.URL+"/metrics")
	wantMetrics(t, text,
		`midge_cluster_node_up{node="w1"} 1`,
		`midge_cluster_members{state="alive"} 2`,
		`midge_cluster_members{state="dead"} 0`,
		`midge_cluster_member_up{member="w1",voter="true"} 1`,
		`midge_cluster_member_up{member="w2",voter="true"} 1`,
		"midge_cluster_is_leader "+leader+"\n",
		"midge_cluster_has_leader 1\n",
		"# TYPE midge_cluster_raft_term gauge\nmidge_cluster_raft_term ",
		"midge_cluster_raft_commit_index ",
		"midge_cluster_raft_applied_index ",
		"midge_cluster_client_ids_owned 1\n",
		`midge_cluster_forward_connected{peer="w2"} 1`,
		`midge_cluster_forward_queued{peer="w2"} 0`,
		`midge_cluster_forward_sent_total{peer="w2"} 1`,
		`midge_cluster_forward_dropped_total{peer="w2"} 0`,
	)
	if strings.Contains(text, "midge_cluster_raft_term 0\n") || strings.Contains(text, "midge_cluster_raft_applied_index 0\n") {
		t.Errorf("raft term or applied index 0 after a claim:\n%s", text)
	}
	var got struct {
		Enabled bool           `json:"enabled"`
		Status  cluster.Status `json:"status"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, srv.URL+"/api/v1/cluster")), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || got.Status.NodeID != "w1" || got.Status.Leader == "" || len(got.Status.Members) != 2 || got.Status.Owners != 1 {
		t.Errorf("GET /api/v1/cluster = %+v", got)
	}
	// Every member with its clients: w1 claimed c1, w2 nothing.
	for _, m := range got.Status.Members {
		if want := map[string]int{"w1": 1, "w2": 0}[m.ID]; m.Clients != want {
			t.Errorf("member %s: %d clients, want %d", m.ID, m.Clients, want)
		}
	}
	var cl struct {
		Node    string   `json:"node"`
		Clients []string `json:"clients"`
		Total   int      `json:"total"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, srv.URL+"/api/v1/cluster/clients?node=w1")), &cl); err != nil {
		t.Fatal(err)
	}
	if cl.Node != "w1" || len(cl.Clients) != 1 || cl.Clients[0] != "c1" || cl.Total != 1 {
		t.Errorf("GET /api/v1/cluster/clients?node=w1 = %+v", cl)
	}
	if err := json.Unmarshal([]byte(httpGet(t, srv.URL+"/api/v1/cluster/clients?node=w2")), &cl); err != nil || len(cl.Clients) != 0 || cl.Total != 0 {
		t.Errorf("GET /api/v1/cluster/clients?node=w2 = %+v (%v)", cl, err)
	}
	if resp, err := http.Get(srv.URL + "/api/v1/cluster/clients"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("without node: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	_, alone := serve(t, web.Config{Broker: b.Server}, web.HandlerConfig{})
	if text := httpGet(t, alone.URL+"/metrics"); strings.Contains(text, "midge_cluster_") {
		t.Errorf("a lone broker's metrics have midge_cluster_ series")
	}
	if body := httpGet(t, alone.URL+"/api/v1/cluster"); !strings.Contains(body, `"enabled":false`) {
		t.Errorf("a lone broker's GET /api/v1/cluster = %s", body)
	}
	if resp, err := http.Get(alone.URL + "/api/v1/cluster/clients?node=w1"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a lone broker's GET /api/v1/cluster/clients: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
