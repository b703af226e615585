package web_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/auth"
	"github.com/midge-mqtt/midge/client"
	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// TestBrowserEndToEnd runs midge (the binary) with a password file and an
// http_api listener, and drives the dashboard in headless Chromium through
// web/e2e/e2e.mjs (playwright-core): log in, see a topic published with
// mosquitto_pub, its history and chart, publish from the page to a
// subscriber, the clients page and statistics; on the Users page create a
// dynamic security user and role, grant a topic, and see the ACL tester
// allow it; on the Bridges page see a bridge (to midge itself) connected
// and its sent counter rise; on the Cluster page see the broker's node
// (a one-node cluster) alive and leading; then, as a user who may read
// a few topics, see only those, and only they are counted. The screenshots go to
// web/e2e/artifacts/. It fails, not skips, when a tool is missing.
func TestBrowserEndToEnd(t *testing.T) {
	testutil.NeedBrowser(t, "e2e", "mosquitto_pub")
	t.Parallel()
	dir := t.TempDir()
	bin := testutil.MidgeBinary(t)

	// The password file: alice administers the dashboard, sensor is a
	// device, viewer may read the kitchen's topics only.
	var pw strings.Builder
	for _, u := range []string{"alice", "sensor", "viewer", "bridge"} {
		h, err := auth.HashPassword(u+"-secret", auth.SHA512PBKDF2, 0)
		if err != nil {
			t.Fatal(err)
		}
		pw.WriteString(u + ":" + h + "\n")
	}
	os.WriteFile(filepath.Join(dir, "passwd"), []byte(pw.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "acl"), []byte("user alice\ntopic readwrite #\n"+
		"user sensor\ntopic write home/#\ntopic write garden/#\ntopic write devices/#\ntopic read home/livingroom/setpoint\n"+
		"user viewer\ntopic read home/kitchen/#\n"+
		"user bridge\ntopic write mirror/#\n"), 0o644)
	// Dynamic security's file, in a directory the broker can write to
	// after it drops root privileges to the mosquitto user.
	dsDir := testutil.WorldDir(t, "midge-e2e-dynsec-", 0o777)
	mqttPort, httpPort := testutil.FreePort(t), testutil.FreePort(t)
	// A one-node cluster, for the Cluster page; its data directory, like
	// dynamic security's, must be writable after the privileges drop.
	clusterDir := testutil.WorldDir(t, "midge-e2e-cluster-", 0o777)
	clusterPort, gossipPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := filepath.Join(dir, "midge.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`log_dest stdout
log_type all
password_file %s/passwd
acl_file %[1]s/acl
plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
plugin_opt_config_file %[4]s/dynamic-security.json
http_api_admin alice
http_api_history 20
listener %[2]d 127.0.0.1
listener %[3]d 127.0.0.1
protocol http_api

connection e2e-bridge
address 127.0.0.1:%[2]d
remote_clientid e2e-bridge
remote_username bridge
remote_password bridge-secret
topic # out 1 bridge-out/ mirror/

cluster_name e2e
cluster_node_id e2e-node
cluster_listen 127.0.0.1:%[5]d
cluster_gossip 127.0.0.1:%[6]d
cluster_bootstrap_expect 1
cluster_data_dir %[7]s
`, dir, mqttPort, httpPort, dsDir, clusterPort, gossipPort, clusterDir)), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	midge := exec.CommandContext(ctx, bin, "broker", "-c", conf)
	midge.Env = append(os.Environ(), "MOSQUITTO_DYNSEC_PASSWORD=dynsec-admin-password")
	midge.Cancel = func() error { return midge.Process.Signal(syscall.SIGTERM) }
	midge.WaitDelay = 10 * time.Second
	out, err := midge.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	midge.Stderr = midge.Stdout
	if err := midge.Start(); err != nil {
		t.Fatal(err)
	}
	ready, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			t.Log("midge: " + line)
			if strings.Contains(line, "midge version") && strings.HasSuffix(line, "running") {
				close(ready)
			}
		}
	}()
	defer func() {
		cancel()
		midge.Wait()
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatal("midge exited")
	case <-ctx.Done():
		t.Fatal("midge did not start")
	}

	// A subscriber for what the page publishes.
	// The node admits clients once it leads its one-node cluster; until
	// then it refuses them with 0x88 Server unavailable, as any node
	// without a majority does.
	got := make(chan *client.Message, 16)
	var sub *client.Client
	testutil.WaitFor(t, "the one-node cluster to admit a client", func() bool {
		var ce *client.ConnectError
		sub, _, err = client.Dial(ctx, client.Options{Address: "127.0.0.1:" + strconv.Itoa(mqttPort), ClientID: "e2e-subscriber",
			ProtocolVersion: packet.Version5, Username: "sensor", Password: []byte("sensor-secret"),
			OnMessage: func(m *client.Message) { got <- m }})
		if errors.As(err, &ce) && ce.Code == packet.ServerUnavailable {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	})
	defer sub.Close()
	if _, err := sub.Subscribe(ctx, client.Subscription{Filter: "home/livingroom/setpoint", QoS: 1}); err != nil {
		t.Fatal(err)
	}

	artifacts, _ := filepath.Abs("e2e/artifacts")
	os.RemoveAll(artifacts)
	node := exec.CommandContext(ctx, "node", "e2e/e2e.mjs")
	node.Env = append(os.Environ(),
		"MIDGE_URL=http://127.0.0.1:"+strconv.Itoa(httpPort), "MIDGE_USER=alice", "MIDGE_PASSWORD=alice-secret",
		"MIDGE_VIEWER=viewer", "MIDGE_VIEWER_PASSWORD=viewer-secret",
		"MQTT_PORT="+strconv.Itoa(mqttPort), "MQTT_USER=sensor", "MQTT_PASSWORD=sensor-secret",
		"ARTIFACTS="+artifacts, "CHROMIUM="+testutil.ChromiumPath)
	nodeOut, err := node.CombinedOutput()
	t.Logf("e2e.mjs:\n%s", nodeOut)
	if err != nil {
		t.Fatalf("the browser test failed (%v); screenshots in %s", err, artifacts)
	}
	select {
	case m := <-got:
		if m.Topic != "home/livingroom/setpoint" || string(m.Payload) != "23.5" || m.QoS != 1 {
			t.Errorf("subscriber got %s %q QoS %d", m.Topic, m.Payload, m.QoS)
		}
	case <-time.After(5 * time.Second):
		t.Error("the subscriber did not get the page's message")
	}
	for _, f := range []string{"tree.png", "history-chart.png", "clients.png", "stats.png", "users.png", "bridges.png", "cluster.png", "viewer.png"} {
		if st, err := os.Stat(filepath.Join(artifacts, f)); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// TestMain removes the midge binary the tests built.
func TestMain(m *testing.M) { testutil.Main(m) }
