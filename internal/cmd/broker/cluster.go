package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/cluster"
	"github.com/midge-mqtt/midge/internal/config"
	"github.com/midge-mqtt/midge/internal/pubcodec"
	"github.com/midge-mqtt/midge/packet"
)

// clusterPublisher prefixes the Publisher of a message that came from
// another node: "\x00cluster\x00NODE\x00PUBLISHER". No client can have
// such an identifier (MQTT forbids U+0000 in strings [MQTT-1.5.4-2]), so
// it also keeps a forwarded message from being forwarded again.
const clusterPublisher = "\x00cluster\x00"

// frameVersion is the first byte of a forwarded message's frame.
const frameVersion = 1

// clusterConfig turns the cluster_* options into a cluster.Config.
func clusterConfig(c config.Cluster) (cluster.Config, error) {
	tc, err := clusterTLS(c)
	if err != nil {
		return cluster.Config{}, err
	}
	cfg := c.Config
	cfg.TLS = tc
	return cfg, nil
}

// clusterTLS returns the mutual TLS configuration of the cluster_cafile,
// cluster_certfile and cluster_keyfile options, nil without them. An error
// names the file and line of the first of them.
func clusterTLS(c config.Cluster) (*tls.Config, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	tc, err := cluster.TLSConfig(c.CAFile, c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.TLSPos, err)
	}
	return tc, nil
}

// clusterRun is the broker's cluster node and its forwarding.
type clusterRun struct {
	node     *cluster.Node
	unwatch  func()                // removes the observer
	received atomic.Uint64         // messages from other nodes published here
	lost     atomic.Uint64         // frames that could not be published
	srv      func() *broker.Server // the server, nil until it runs
	sysStop  chan struct{}         // closed to stop the $SYS publisher
	sysDone  chan struct{}         // closed when it has stopped
	hooks    *clusterHooks         // client ids and retained messages (cluster_hooks.go)
	repl     replication           // acknowledged forwarding (cluster_replicate.go)
	ready    chan struct{}         // closed once the server runs: frames wait for it
}

// startCluster starts this broker's cluster node when the configuration
// has cluster options. The node forms or joins the cluster in the
// background; the broker does not wait for it.
func (b *brokerRun) startCluster(ctx context.Context) error {
	c := b.res.Cluster
	if c.Name == "" {
		return nil
	}
	cr := &clusterRun{srv: b.srv.Load, ready: make(chan struct{}), hooks: newClusterHooks(func(s string) { b.log.Warn(s) }, b.srv.Load)}
	cfg, err := clusterConfig(c)
	if err != nil {
		return err
	}
	cfg.Logger = b.log
	cfg.Deliver = func(from string, f []byte, done func()) { cr.receive(b, from, f, done) }
	cfg.OnChange = cr.hooks.onChange
	cfg.OnRestore = func() { cr.hooks.markDirty("") }
	b.clusterReplicated(&cfg) // cluster_dynsec.go
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	cr.node, cr.hooks.node = n, n
	n.HandleSessions(sessionMover{cr.hooks}) // cluster_migrate.go
	b.dynsecNode.Store(n)
	b.cluster = cr
	b.log.Info(fmt.Sprintf("Cluster %q: node %s on %s (gossip %s), data in %s.", c.Name, n.ID(), n.Addr(), n.GossipAddr(), c.DataDir))
	return nil
}

// setClusterHooks makes the server claim client identifiers through the
// cluster (cluster_hooks.go) and acknowledge a QoS 1 or 2 message once the
// other nodes have it (cluster_replicate.go).
func (b *brokerRun) setClusterHooks(cfg *broker.Config) {
	if cr := b.cluster; cr != nil {
		cfg.Admit, cfg.OnDisconnect = cr.hooks.admit, cr.hooks.disconnected
		cfg.Replicate = cr.repl.replicate
		cr.setRouteHooks(cfg) // cluster_routes.go
	}
}

// attachCluster forwards every message the server routes to the other
// nodes with a matching route (docs/cluster.md says what that
// guarantees): QoS 0 ones dropped when a peer's queue is full, QoS 1 and 2
// ones waiting for room and acknowledged (cluster_replicate.go). It has
// raft agree on the
// retained messages published here.
func (b *brokerRun) attachCluster(srv *broker.Server) {
	cr := b.cluster
	if cr == nil {
		return
	}
	cr.hooks.start(srv)
	cr.unwatch = srv.Observe(func(m *broker.Message) {
		if strings.HasPrefix(m.Topic, "$") || strings.HasPrefix(m.Publisher, clusterPublisher) {
			return // $SYS and $CONTROL stay on their node; forwarded ones are not forwarded again
		}
		if m.Retain {
			cr.hooks.observe(m)
		}
		cr.forward(m) // to the nodes with a matching route (cluster_routes.go)
	})
	close(cr.ready)
	if d := sysInterval(b.res.Config.SysInterval); d > 0 {
		cr.sysStop, cr.sysDone = make(chan struct{}), make(chan struct{})
		go cr.publishSys(srv, d)
	}
}

// publishSys publishes the node's view of the cluster under
// $SYS/broker/cluster/ every interval, retained, each value when it
// changes: node_id, state (raft's), leader, term, commit_index,
// members/<id> (alive, dead or unknown; voter or not), routes/<id> (the
// routes this node knows of each node), peers/<id>/queued,
// sent and dropped (the forwarding streams), messages/received and
// messages/lost (forwarded messages published here, or not).
func (cr *clusterRun) publishSys(srv *broker.Server, interval time.Duration) {
	defer close(cr.sysDone)
	last := make(map[string]string)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st := cr.node.Status()
		vals := map[string]string{
			"node_id": st.NodeID, "state": st.State, "leader": st.Leader,
			"term": fmt.Sprint(st.Term), "commit_index": fmt.Sprint(st.CommitIndex),
			"messages/received": fmt.Sprint(cr.received.Load()), "messages/lost": fmt.Sprint(cr.lost.Load()),
		}
		for _, m := range st.Members {
			v := m.State
			if m.Voter {
				v += " voter"
			}
			vals["members/"+m.ID] = v
		}
		for id, k := range st.Routes {
			vals["routes/"+id] = fmt.Sprint(k)
		}
		for _, p := range st.Peers {
			vals["peers/"+p.ID+"/queued"] = fmt.Sprint(p.Queued)
			vals["peers/"+p.ID+"/sent"] = fmt.Sprint(p.Sent)
			vals["peers/"+p.ID+"/dropped"] = fmt.Sprint(p.Dropped)
		}
		for k, v := range vals {
			if last[k] == v {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			err := srv.PublishSystem(ctx, &broker.Message{Topic: "$SYS/broker/cluster/" + k, Payload: []byte(v), Retain: true})
			cancel()
			if err == nil {
				last[k] = v
			}
		}
		select {
		case <-cr.sysStop:
			return
		case <-t.C:
		}
	}
}

// stopCluster stops forwarding and leaves the cluster gracefully.
func (b *brokerRun) stopCluster() {
	cr := b.cluster
	if cr == nil {
		return
	}
	if cr.unwatch != nil {
		cr.unwatch()
	}
	if cr.sysStop != nil {
		close(cr.sysStop)
		<-cr.sysDone
	}
	cr.hooks.close()
	b.dynsecNode.Store(nil)
	b.log.Info(fmt.Sprintf("Cluster: %d messages received from other nodes, %d could not be published.", cr.received.Load(), cr.lost.Load()))
	if err := cr.node.Close(); err != nil {
		b.log.Error("Error: closing the cluster node: " + err.Error())
	}
	b.cluster = nil
}

// encodeFrame encodes m for the other nodes: the version byte, the
// publisher (a uvarint length and its bytes), and m as an MQTT 5 PUBLISH.
// It reports false for a message that has expired.
func encodeFrame(m *broker.Message, now time.Time) ([]byte, bool) {
	p := &packet.Publish{QoS: m.QoS, Retain: m.Retain, Topic: m.Topic, Payload: m.Payload}
	if p.QoS > 0 {
		p.PacketID = 1
	}
	if m.Properties != nil {
		p.Properties = *m.Properties
	}
	if !m.Expiry.IsZero() {
		left := m.Expiry.Sub(now)
		if left <= 0 {
			return nil, false
		}
		p.Properties.SetUint(packet.PropMessageExpiry, uint32(min(math.Ceil(left.Seconds()), math.MaxUint32)))
	}
	f := make([]byte, 0, 16+len(m.Publisher)+len(m.Topic)+len(m.Payload))
	f = append(f, frameVersion)
	f = binary.AppendUvarint(f, uint64(len(m.Publisher)))
	f = append(f, m.Publisher...)
	f, err := packet.Append(f, p, packet.Version5)
	return f, err == nil
}

// decodeFrame decodes a frame from node from, received at now.
func decodeFrame(from string, f []byte, now time.Time) (*broker.Message, error) {
	if len(f) == 0 || f[0] != frameVersion {
		return nil, errors.New("unknown frame version")
	}
	n, k := binary.Uvarint(f[1:])
	if k <= 0 || n > uint64(len(f)-1-k) {
		return nil, errors.New("bad publisher")
	}
	publisher := string(f[1+k : 1+k+int(n)])
	r := packet.NewReader(bytes.NewReader(f[1+k+int(n):]), 0)
	r.Version = packet.Version5
	pk, err := r.ReadPacket()
	if err != nil {
		return nil, err
	}
	p, ok := pk.(*packet.Publish)
	if !ok {
		return nil, fmt.Errorf("a %v, not a PUBLISH", pk.Type())
	}
	m := &broker.Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain,
		Properties: pubcodec.Forwarded(&p.Properties), Publisher: clusterPublisher + from + "\x00" + publisher, Received: now}
	if p.Properties.Has(packet.PropMessageExpiry) {
		m.Expiry = now.Add(time.Duration(p.Properties.MessageExpiry) * time.Second)
	}
	return m, nil
}

// receive publishes here a message another node forwarded, and calls
// done (the frame's acknowledgement) once its deliveries to persistent
// sessions are durable. Until the server runs it waits (holding that
// node's stream); a frame that cannot be published is acknowledged too,
// and counted: sending it again would not help.
func (cr *clusterRun) receive(b *brokerRun, from string, f []byte, done func()) {
	select {
	case <-cr.ready:
	case <-cr.hooks.ctx.Done():
		return // stopping: never acknowledged, the sender keeps it
	}
	srv := cr.srv()
	sel, f, err := decodeSelection(f) // cluster_routes.go
	var m *broker.Message
	if err == nil {
		m, err = decodeFrame(from, f, time.Now())
	}
	if srv == nil || err != nil {
		cr.lost.Add(1)
		b.log.Warn(fmt.Sprintf("Warning: cluster: a message from node %s: %v", from, err))
		done()
		return
	}
	// Delivered here, but stored as retained from raft's agreement only
	// (cluster_hooks.go): a frame may arrive after a later agreement.
	srv.RouteSelectedAsync(m, sel, func(err error) {
		if errors.Is(err, broker.ErrStoreClosed) {
			return // stopping: never acknowledged, the sender keeps it for the next life
		}
		if err != nil {
			cr.lost.Add(1)
			b.log.Warn(fmt.Sprintf("Warning: cluster: publishing a message from node %s on %q: %v", from, m.Topic, err))
		} else {
			cr.received.Add(1)
		}
		done()
	})
}

// clusterStatus returns what the dashboard calls for the cluster's
// metrics and page (web.Config.Cluster), nil when the broker runs alone.
func (b *brokerRun) clusterStatus() func() (cluster.Status, bool) {
	if b.cluster == nil {
		return nil
	}
	n := b.cluster.node
	return func() (cluster.Status, bool) { return n.Status(), true }
}

// clusterClients returns what the dashboard calls to list a node's
// clients (web.Config.ClusterClients), nil when the broker runs alone.
func (b *brokerRun) clusterClients() func(string, int) ([]string, int) {
	if b.cluster == nil {
		return nil
	}
	return b.cluster.node.Clients
}
