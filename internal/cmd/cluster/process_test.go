package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }

// clusterWait bounds each wait of these tests: long enough for elections
// and gossip on a loaded two-core machine, never reached when they pass.
const clusterWait = 90 * time.Second

// waitFor polls cond until it holds, failing the test after clusterWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitWithin(t, clusterWait, what, cond)
}

// proc is a midge broker process, a node of a cluster.
type proc struct {
	t       *testing.T
	id      string
	dir     string // persistence_location; the cluster's data in dir/cluster
	conf    string
	cluster string // cluster address
	gossip  string
	mqtt    string // the MQTT listener
	cmd     *exec.Cmd
	out     *testutil.LockedBuffer // every life's output
	done    chan struct{}          // closed when the current life ended
	tls     *tls.Config            // the node's certificate, for status; nil without TLS
}

// newProc writes the configuration of node id of cluster name, joining
// join, and returns the node, not started.
func newProc(t *testing.T, name, id string, expect int, join []string) *proc {
	t.Helper()
	extra := fmt.Sprintf("cluster_bootstrap_expect %d\n", expect)
	if len(join) > 0 {
		extra += "cluster_join " + strings.Join(join, " ") + "\n"
	}
	return newNode(t, name, id, fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), extra)
}

// newNode writes the configuration of node id of cluster name, on the
// cluster and gossip addresses given, with the lines extra after the
// common ones, and returns the node, not started. Its output is logged if
// the test fails.
func newNode(t *testing.T, name, id, clusterAddr, gossipAddr, extra string) *proc {
	t.Helper()
	dir := t.TempDir()
	p := &proc{t: t, id: id, dir: dir, conf: filepath.Join(dir, "midge.conf"), out: &testutil.LockedBuffer{},
		cluster: clusterAddr, gossip: gossipAddr}
	p.mqtt = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	_, mport, _ := net.SplitHostPort(p.mqtt)
	conf := fmt.Sprintf(`user root
listener %s 127.0.0.1
allow_anonymous true
sys_interval 1
persistence true
persistence_location %s/
log_dest stdout
log_type all
cluster_name %s
cluster_node_id %s
cluster_listen %s
cluster_gossip %s
`, mport, dir, name, id, p.cluster, p.gossip) + extra
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.id, p.out.String())
		}
	})
	return p
}

// start starts a life of the node.
func (p *proc) start() {
	p.t.Helper()
	fmt.Fprintf(p.out, "--- start of %s\n", p.id)
	p.cmd = exec.Command(testutil.MidgeBinary(p.t), "broker", "-c", p.conf)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	p.done = done
	go func() { p.cmd.Wait(); close(done) }()
}

// kill ends the node with SIGKILL and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop ends the node with SIGTERM (SIGKILL after a while), if it runs.
func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

// status returns the node's status, or false if it does not answer.
func (p *proc) status() (cluster.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if p.tls != nil {
		s, err := cluster.FetchStatusTLS(ctx, p.tls, p.cluster)
		return s, err == nil
	}
	s, err := cluster.FetchStatus(ctx, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, p.cluster)
	return s, err == nil
}

// member returns what s says of member id.
func member(s cluster.Status, id string) (cluster.MemberStatus, bool) {
	i := slices.IndexFunc(s.Members, func(m cluster.MemberStatus) bool { return m.ID == id })
	if i < 0 {
		return cluster.MemberStatus{}, false
	}
	return s.Members[i], true
}

// formed reports whether every node of ps knows the same leader among ps
// and lists every node of ps alive and a voter, and returns the leader.
func formed(ps ...*proc) (string, bool) {
	leader := ""
	for _, p := range ps {
		s, ok := p.status()
		if !ok || s.Leader == "" || (leader != "" && s.Leader != leader) {
			return "", false
		}
		leader = s.Leader
		for _, q := range ps {
			if m, ok := member(s, q.id); !ok || m.State != "alive" || !m.Voter {
				return "", false
			}
		}
	}
	return leader, slices.ContainsFunc(ps, func(p *proc) bool { return p.id == leader })
}

// claimOn applies a claim of client for node owner through p, which must
// lead: the survivors' agreement, seen through the node API.
func claimOn(p *proc, client, owner string) error {
	body := fmt.Sprintf(`{"op":"claim","client":%q,"node":%q,"token":1}`, client, owner)
	resp, err := http.Post("http://"+p.cluster+"/v1/apply", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return nil
}

// runStatus runs "midge cluster status" in process with args.
func runStatus(args ...string) (string, string, int) {
	var o, e bytes.Buffer
	rc := Run(context.Background(), "midge cluster", append([]string{"status"}, args...), base.Streams{In: strings.NewReader(""), Out: &o, Err: &e})
	return o.String(), e.String(), rc
}

// TestClusterOfProcesses starts three midge brokers that form a cluster,
// checks "midge cluster status", kills the leader with SIGKILL, checks that
// the survivors elect another and still agree on a claim, restarts the
// killed node on its data directory and sees it rejoin and catch up, and
// adds a fourth node late.
func TestClusterOfProcesses(t *testing.T) {
	t.Parallel()
	var ps []*proc
	gossips := make([]string, 3)
	for i := range 3 {
		ps = append(ps, newProc(t, "test", fmt.Sprintf("n%d", i+1), 3, nil))
		gossips[i] = ps[i].gossip
	}
	for _, p := range ps {
		// Every node is told every seed, itself included, as one
		// configuration file copied to three machines would.
		f, err := os.OpenFile(p.conf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "cluster_join %s\n", strings.Join(gossips, " "))
		f.Close()
		p.start()
	}
	var leader string
	waitFor(t, "three nodes with one leader", func() (ok bool) { leader, ok = formed(ps...); return ok })

	out, errOut, rc := runStatus("-c", ps[1].conf)
	if rc != 0 || errOut != "" || !strings.Contains(out, "leader:   "+leader+" at ") || !strings.Contains(out, "node:     n2 (") {
		t.Errorf("midge cluster status = %d, %q:\n%s", rc, errOut, out)
	}
	for _, p := range ps {
		if !strings.Contains(out, "\n  "+p.id+" ") || strings.Count(out, "alive") != 3 {
			t.Errorf("midge cluster status does not list %s alive:\n%s", p.id, out)
		}
	}
	out, _, rc = runStatus("-a", ps[0].cluster, "-json")
	if rc != 0 || !strings.Contains(out, `"node_id": "n1"`) {
		t.Errorf("midge cluster status -json = %d:\n%s", rc, out)
	}

	// SIGKILL the leader: the two others elect a new one and agree.
	var dead *proc
	var rest []*proc
	for _, p := range ps {
		if p.id == leader {
			dead = p
		} else {
			rest = append(rest, p)
		}
	}
	dead.kill()
	var next string
	waitFor(t, "a new leader among the survivors", func() bool {
		next = ""
		for _, p := range rest {
			s, ok := p.status()
			if !ok || s.Leader == "" || s.Leader == leader || (next != "" && s.Leader != next) {
				return false
			}
			next = s.Leader
		}
		return true
	})
	waitFor(t, "the survivors to see the killed node dead", func() bool {
		for _, p := range rest {
			s, ok := p.status()
			if m, in := member(s, dead.id); !ok || !in || m.State != "dead" || !m.Voter {
				return false
			}
		}
		return true
	})
	var nextProc *proc
	for _, p := range rest {
		if p.id == next {
			nextProc = p
		}
	}
	if err := claimOn(nextProc, "client-after-kill", "elsewhere"); err != nil {
		t.Fatalf("claim on the new leader %s: %v", next, err)
	}
	waitFor(t, "the claim on both survivors", func() bool {
		for _, p := range rest {
			if s, ok := p.status(); !ok || s.Owners != 1 {
				return false
			}
		}
		return true
	})

	// The killed node restarts on its data directory: it rejoins as the
	// voter it was and catches up.
	dead.start()
	waitFor(t, "the restarted node back in the cluster", func() bool { _, ok := formed(ps...); return ok })
	waitFor(t, "the restarted node caught up", func() bool { s, ok := dead.status(); return ok && s.Owners == 1 })
	if !strings.Contains(dead.out.String(), "existing_state=true") {
		t.Errorf("the restarted node did not find its raft state")
	}

	// A node joining late, with the same options as the first three.
	late := newProc(t, "test", "n4", 3, []string{ps[2].gossip})
	late.start()
	waitFor(t, "four voters with one leader", func() bool { _, ok := formed(append(ps, late)...); return ok })
	waitFor(t, "the late node caught up", func() bool { s, ok := late.status(); return ok && s.Owners == 1 })
	if strings.Contains(late.out.String(), "cluster: bootstrapped") {
		t.Errorf("the late node bootstrapped a cluster of its own")
	}
}

// TestOtherClusterDoesNotJoin checks that a node whose cluster_name
// differs, given a node of another cluster as its seed, never joins it.
func TestOtherClusterDoesNotJoin(t *testing.T) {
	t.Parallel()
	a := newProc(t, "blue", "a", 1, nil)
	a.start()
	waitFor(t, "a leading its cluster", func() bool { s, ok := a.status(); return ok && s.Leader == "a" })
	x := newProc(t, "green", "x", 1, []string{a.gossip})
	x.start()
	waitFor(t, "x leading its own cluster", func() bool { s, ok := x.status(); return ok && s.Leader == "x" })
	waitFor(t, "x's refused join attempt", func() bool { return strings.Contains(x.out.String(), "no seed answers yet") })
	for _, p := range []*proc{a, x} {
		s, _ := p.status()
		if len(s.Members) != 1 || s.Members[0].ID != p.id {
			t.Errorf("%s lists members %+v, want itself only", p.id, s.Members)
		}
	}
}
