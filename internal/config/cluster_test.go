package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/config"
)

// TestClusterOptions checks that the cluster_* options reach Result.Cluster
// with the data directory's default.
func TestClusterOptions(t *testing.T) {
	t.Parallel()
	r := mustParse(t, `persistence_location /var/lib/midge/
cluster_name prod
cluster_node_id n1
cluster_listen 10.0.0.1:7000
cluster_gossip 0.0.0.0:7001  # comment
cluster_join 10.0.0.2:7001 10.0.0.3:7001 # seeds
cluster_join n4.example:7001
cluster_bootstrap_expect 3
`)
	c := r.Cluster
	if c.Name != "prod" || c.NodeID != "n1" || c.Listen != "10.0.0.1:7000" || c.Gossip != "0.0.0.0:7001" ||
		!slices.Equal(c.Join, []string{"10.0.0.2:7001", "10.0.0.3:7001", "n4.example:7001"}) || c.BootstrapExpect != 3 ||
		c.DataDir != "/var/lib/midge/cluster" || c.Pos.Line != 2 {
		t.Errorf("Cluster = %+v", c)
	}
	r = mustParse(t, "cluster_name c\ncluster_listen 0.0.0.0:7000\ncluster_gossip 0.0.0.0:7001\ncluster_join a:1\n"+
		"cluster_advertise n1.example:17000\ncluster_gossip_advertise 192.0.2.1:17001\n")
	if c := r.Cluster; c.Advertise != "n1.example:17000" || c.GossipAdvertise != "192.0.2.1:17001" {
		t.Errorf("advertise: Cluster = %+v", c)
	}
	r = mustParse(t, "cluster_name c\ncluster_listen :7000\ncluster_gossip :7001\ncluster_join a:1\ncluster_gossip_key AAECAwQFBgcICQoLDA0ODw==\n")
	if k := r.Cluster.GossipKey; len(k) != 16 || k[15] != 15 {
		t.Errorf("GossipKey = %v", k)
	}
	r = mustParse(t, "cluster_name c\ncluster_listen :7000\ncluster_gossip :7001\ncluster_join a:1\ncluster_certfile /etc/midge/n1.crt\ncluster_cafile /etc/midge/ca.crt\ncluster_keyfile /etc/midge/n1 key.pem\n")
	if c := r.Cluster; c.CAFile != "/etc/midge/ca.crt" || c.CertFile != "/etc/midge/n1.crt" || c.KeyFile != "/etc/midge/n1 key.pem" || c.TLSPos.Line != 5 {
		t.Errorf("Cluster TLS = %+v", c)
	}
	r = mustParse(t, "cluster_name c\ncluster_listen :7000\ncluster_gossip :7001\ncluster_bootstrap_expect 1\ncluster_data_dir /srv/midge cluster\n")
	if r.Cluster.DataDir != "/srv/midge cluster" || r.Cluster.NodeID != "" {
		t.Errorf("Cluster = %+v", r.Cluster)
	}
	if r := mustParse(t, "listener 1883\n"); r.Cluster.Name != "" || r.Cluster.DataDir != "" {
		t.Errorf("no cluster options: Cluster = %+v", r.Cluster)
	}
}

// TestClusterErrors checks that bad cluster options stop the load with
// file:line and what is wrong.
func TestClusterErrors(t *testing.T) {
	t.Parallel()
	const ok = "cluster_name c\ncluster_listen 127.0.0.1:7000\ncluster_gossip 127.0.0.1:7001\ncluster_bootstrap_expect 3\n"
	for _, tc := range []struct{ text, want string }{
		{ok + "cluster_listen 127.0.0.1:7002\n", "t.conf:5: duplicate cluster_listen value (first at t.conf:2)"},
		{ok + "cluster_join 10.0.0.1\n", `t.conf:5: invalid cluster_join address "10.0.0.1": want HOST:PORT`},
		{ok + "cluster_join :7001\n", `t.conf:5: invalid cluster_join address ":7001": no host`},
		{ok + "cluster_join\n", "t.conf:5: empty cluster_join value"},
		{ok + "cluster_keyfile k.pem\ncluster_cafile ca.pem\n", "t.conf:5: cluster TLS needs cluster_cafile, cluster_certfile and cluster_keyfile together: cluster_certfile missing"},
		{ok + "cluster_cafile ca.pem\ncluster_cafile ca2.pem\n", "t.conf:6: duplicate cluster_cafile value (first at t.conf:5)"},
		{ok + "cluster_certfile\n", "t.conf:5: empty cluster_certfile value"},
		{ok + "cluster_gossip_key c2VjcmV0\n", "t.conf:5: cluster_gossip_key of 6 bytes: want 16, 24 or 32"},
		{ok + "cluster_gossip_key not*base64\n", "t.conf:5: cluster_gossip_key is not base64"},
		{"cluster_name c\ncluster_listen 127.0.0.1:0\n", `t.conf:2: invalid cluster_listen address "127.0.0.1:0": the port must be 1 to 65535`},
		{"cluster_name c\ncluster_gossip 127.0.0.1:99999\n", `t.conf:2: invalid cluster_gossip address "127.0.0.1:99999": the port must be 1 to 65535`},
		{ok + "cluster_advertise 10.0.0.1\n", `t.conf:5: invalid cluster_advertise address "10.0.0.1": want HOST:PORT`},
		{ok + "cluster_advertise :7000\n", `t.conf:5: invalid cluster_advertise address ":7000": no host`},
		{ok + "cluster_advertise 0.0.0.0:7000\n", `t.conf:5: invalid cluster_advertise address "0.0.0.0:7000": the other nodes cannot dial an unspecified address`},
		{ok + "cluster_advertise a:1\ncluster_advertise b:1\n", "t.conf:6: duplicate cluster_advertise value (first at t.conf:5)"},
		{ok + "cluster_gossip_advertise n1.example:7001\n", `t.conf:5: invalid cluster_gossip_advertise address "n1.example:7001": want IP:PORT`},
		{ok + "cluster_gossip_advertise 10.0.0.1:0\n", `t.conf:5: invalid cluster_gossip_advertise address "10.0.0.1:0": the port must be 1 to 65535`},
		{ok + "cluster_gossip_advertise [::]:7001\n", `t.conf:5: invalid cluster_gossip_advertise address "[::]:7001": the other nodes cannot dial an unspecified address`},
		{"cluster_bootstrap_expect 0\n", "t.conf:1: invalid cluster_bootstrap_expect 0: want 1 to 100"},
		{"cluster_bootstrap_expect three\n", `t.conf:1: cluster_bootstrap_expect value "three" is not a number`},
		{"cluster_node_id " + strings.Repeat("x", 129) + "\n", "t.conf:1: cluster_node_id longer than 128 bytes"},
		{"\ncluster_listen 127.0.0.1:7000\ncluster_gossip 127.0.0.1:7001\ncluster_join a:1\n", "t.conf:2: cluster options without cluster_name"},
		{"cluster_name c\ncluster_gossip 127.0.0.1:7001\ncluster_join a:1\n", "t.conf:1: cluster options without cluster_listen"},
		{"cluster_name c\ncluster_listen 127.0.0.1:7000\ncluster_join a:1\n", "t.conf:1: cluster options without cluster_gossip"},
		{"cluster_name c\ncluster_listen 127.0.0.1:7000\ncluster_gossip 127.0.0.1:7000\ncluster_join a:1\n", "t.conf:1: cluster_listen and cluster_gossip are both 127.0.0.1:7000"},
		{"cluster_name c\ncluster_listen 127.0.0.1:7000\ncluster_gossip 127.0.0.1:7001\n", "t.conf:1: cluster options without cluster_bootstrap_expect or cluster_join"},
	} {
		_, err := config.Parse(strings.NewReader(tc.text), "t.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}
