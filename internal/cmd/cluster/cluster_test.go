package cluster

import (
	"strconv"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestStatusUsage checks the usage errors of "midge cluster status" and
// its answer when no node listens.
func TestStatusUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noCluster := testutil.WriteFile(t, dir, "plain.conf", "listener 1883 127.0.0.1\n")
	bad := testutil.WriteFile(t, dir, "bad.conf", "cluster_name x\ncluster_listen nowhere\n")
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "give the node's configuration file (-c) or its cluster address (-a)"},
		{[]string{"-c", noCluster, "-a", "127.0.0.1:1"}, 2, "give the node's configuration file (-c) or its cluster address (-a)"},
		{[]string{"-a", "127.0.0.1:1", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-a", "127.0.0.1:1", "-timeout", "0s"}, 2, "-timeout must be positive"},
		{[]string{"-c", noCluster}, 1, noCluster + " has no cluster options"},
		{[]string{"-c", bad}, 1, bad + `:2: invalid cluster_listen address "nowhere": want HOST:PORT`},
		{[]string{"-a", "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))}, 1, "connection refused"},
	} {
		out, errOut, rc := runStatus(tc.args...)
		if rc != tc.code || out != "" || !strings.Contains(errOut, tc.err) {
			t.Errorf("status %q = %d, %q, %q; want %d and %q", tc.args, rc, out, errOut, tc.code, tc.err)
		}
	}
}

// TestDialable checks the address "midge cluster status -c" dials for a
// cluster_listen address.
func TestDialable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.0.0.1:7946": "10.0.0.1:7946",
		"0.0.0.0:7946":  "127.0.0.1:7946",
		":7946":         "127.0.0.1:7946",
		"[::]:7946":     "[::1]:7946",
		"node1:7946":    "node1:7946",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}
