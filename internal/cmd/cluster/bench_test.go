package cluster

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// benchReport is the part of "midge bench --json" this test reads.
type benchReport struct {
	Mode        string `json:"mode"`
	Target      string `json:"target"`
	SubTarget   string `json:"sub_target"`
	QoS         int    `json:"qos"`
	Publishers  int    `json:"publishers"`
	Subscribers int    `json:"subscribers"`
	Connect     struct {
		Connected int `json:"connected"`
		Failed    int `json:"failed"`
	} `json:"connect"`
	Publish *struct {
		Sent  int64   `json:"sent"`
		Acked int64   `json:"acknowledged"`
		Rate  float64 `json:"per_second"`
	} `json:"publish"`
	Receive *struct {
		Expected   int64   `json:"expected"`
		Received   int64   `json:"received"`
		Lost       int64   `json:"lost"`
		Dup        int64   `json:"duplicates"`
		OutOfOrder int64   `json:"out_of_order"`
		Foreign    int64   `json:"foreign"`
		Rate       float64 `json:"per_second"`
		Latency    *struct {
			Count uint64  `json:"count"`
			P50   float64 `json:"p50_ms"`
			P99   float64 `json:"p99_ms"`
			Max   float64 `json:"max_ms"`
		} `json:"latency"`
	} `json:"receive"`
	Errors   int  `json:"errors"`
	TimedOut bool `json:"timed_out"`
	Stalled  bool `json:"stalled"`
}

// TestBenchAcrossNodes runs "midge bench pubsub" with its publishers on one
// node of a three-node cluster and its subscribers on another (--sub-L):
// at QoS 1 every message crosses the forwarding stream once, in order, and
// the report has the throughput and the latency of the way across.
func TestBenchAcrossNodes(t *testing.T) {
	t.Parallel()
	ps := startThree(t, "b")
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.MidgeBinary(t), "bench", "pubsub",
		"-L", "mqtt://"+ps[0].mqtt, "--sub-L", "mqtt://"+ps[1].mqtt,
		"-q", "1", "-c", "2", "-S", "2", "-C", "2000", "-t", "bench/x/%i",
		"-d", "60s", "--pid", "none", "--progress", "never", "--json")
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("midge bench: %v\n%s%s", err, errOut.String(), out)
	}
	var rep benchReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if rep.Mode != "pubsub" || rep.Target != "mqtt://"+ps[0].mqtt || rep.SubTarget != "mqtt://"+ps[1].mqtt ||
		rep.QoS != 1 || rep.Publishers != 2 || rep.Subscribers != 2 || rep.Connect.Connected != 4 || rep.Connect.Failed != 0 {
		t.Errorf("report head: %s", out)
	}
	p, r := rep.Publish, rep.Receive
	if p == nil || r == nil || r.Latency == nil {
		t.Fatalf("report without publish, receive or latency: %s", out)
	}
	if p.Sent != 2000 || p.Acked != 2000 || p.Rate <= 0 {
		t.Errorf("publish: %+v", *p)
	}
	// Each subscriber's bench/x/+ matches both publishers: 4,000 deliveries.
	if r.Expected != 4000 || r.Received != 4000 || r.Lost != 0 || r.Dup != 0 || r.OutOfOrder != 0 || r.Foreign != 0 || r.Rate <= 0 {
		t.Errorf("receive: %+v", *r)
	}
	if l := r.Latency; l.Count != 4000 || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Errorf("latency: %+v", *l)
	}
	if rep.Errors != 0 || rep.TimedOut || rep.Stalled {
		t.Errorf("errors %d, timed out %v, stalled %v", rep.Errors, rep.TimedOut, rep.Stalled)
	}
	// What crossed went over node 1's stream to node 2.
	s, ok := ps[0].status()
	if !ok {
		t.Fatal("node 1 does not answer")
	}
	i := slices.IndexFunc(s.Peers, func(pe cluster.PeerStatus) bool { return pe.ID == ps[1].id })
	if i < 0 || s.Peers[i].Sent < 2000 {
		t.Errorf("node 1's streams: %+v, want at least 2000 messages sent to %s", s.Peers, ps[1].id)
	}
}
