package interop_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// debianMosquitto is the broker of Debian's mosquitto package.
const debianMosquitto = "/usr/sbin/mosquitto"

// startDebianMosquitto runs Debian's mosquitto with the configuration conf
// makes for nports free ports and waits until it serves, as startMidge.
func startDebianMosquitto(t *testing.T, dir string, nports int, conf func(ports []string) string) (*proc, []string) {
	t.Helper()
	if _, err := os.Stat(debianMosquitto); err != nil {
		t.Fatalf("%s not found: %v; install it with: apt-get install mosquitto", debianMosquitto, err)
	}
	return startBrokerProc(t, dir, []string{"stdbuf", "-oL", debianMosquitto}, nports, conf) // it buffers a piped stdout
}

// TestMosquittoDBMigration: Debian's mosquitto makes a real mosquitto.db
// (retained messages, a persistent session with subscriptions and queued
// QoS 1 and 2 messages, stopped cleanly); midge started on the same
// persistence_location imports it, a subscriber reconnecting with the same
// client id gets its queued messages, the retained messages are there, the
// file is left as it was, and a restart does not import it again.
func TestMosquittoDBMigration(t *testing.T) {
	needMosquittoClients(t)
	dir := worldDir(t)
	data := makeDir(t, dir, "data", 0o777) // both brokers drop root privileges to mosquitto
	conf := func(port string) string {
		return "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location " + data + "/\n"
	}

	mosq, ports := startDebianMosquitto(t, dir, 1, func(ports []string) string { return conf(ports[0]) })
	port := ports[0]
	startMosquitto(t, "mosquitto_sub", "-p", port, "-i", "migrating-sub", "-c", "-q", "2",
		"-t", "queue/#", "-t", "other/+", "-E").wait()
	startMosquitto(t, "mosquitto_sub", "-V", "mqttv5", "-p", port, "-i", "migrating-sub5", "-c", "-x", "3600",
		"-q", "1", "-t", "v5/#", "-E").wait()
	pub := func(args ...string) {
		startMosquitto(t, "mosquitto_pub", append([]string{"-p", port}, args...)...).wait()
	}
	pub("-t", "queue/1", "-q", "1", "-m", "first")
	pub("-t", "queue/2", "-q", "2", "-m", "second")
	pub("-t", "other/x", "-q", "2", "-m", "third")
	pub("-t", "keep/a", "-q", "1", "-r", "-m", "retained a")
	pub("-t", "keep/b", "-q", "0", "-r", "-m", "retained b")
	pub("-V", "mqttv5", "-t", "v5/x", "-q", "1", "-m", "five", "-D", "publish", "user-property", "k", "v")
	mosq.signal(syscall.SIGTERM) // a clean stop writes the file
	mosq.waitExit(0)
	src := filepath.Join(data, "mosquitto.db")
	before, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("mosquitto did not write its persistence file: %v\n%s", err, mosq.output())
	}
	fi0, _ := os.Stat(src)

	midge, ports := startMidge(t, dir, 1, func(ports []string) string { return conf(ports[0]) })
	imported := midge.waitLine("Imported Mosquitto persistence file " + src)
	if !strings.Contains(imported, "2 retained messages, 2 sessions with 3 subscriptions, 4 queued messages") {
		t.Errorf("import log: %s", imported)
	}
	sub := startMosquitto(t, "mosquitto_sub", "-p", ports[0], "-i", "migrating-sub", "-c", "-q", "2",
		"-t", "queue/#", "-t", "other/+", "-v", "-C", "3")
	if got, want := sub.wait(), []string{"queue/1 first", "queue/2 second", "other/x third"}; !slices.Equal(got, want) {
		t.Errorf("queued messages: got %q, want %q", got, want)
	}
	sub5 := startMosquitto(t, "mosquitto_sub", "-V", "mqttv5", "-p", ports[0], "-i", "migrating-sub5", "-c", "-x", "3600",
		"-q", "1", "-t", "v5/#", "-F", "%t %p %P", "-C", "1")
	if got, want := sub5.wait(), []string{"v5/x five k:v"}; !slices.Equal(got, want) {
		t.Errorf("queued MQTT 5 message: got %q, want %q", got, want)
	}
	ret := startMosquitto(t, "mosquitto_sub", "-p", ports[0], "-t", "keep/#", "-v", "-C", "2", "-F", "%r %t %p")
	got := ret.wait()
	slices.Sort(got)
	if want := []string{"1 keep/a retained a", "1 keep/b retained b"}; !slices.Equal(got, want) {
		t.Errorf("retained messages: got %q, want %q", got, want)
	}
	midge.signal(syscall.SIGTERM)
	midge.waitExit(0)

	// Restarted, midge does not import the file again (the queue stays
	// empty), and the file is as Mosquitto left it.
	midge, ports = startMidge(t, dir, 1, func(ports []string) string { return conf(ports[0]) })
	again := startMosquitto(t, "mosquitto_sub", "-p", ports[0], "-i", "migrating-sub", "-c", "-q", "2",
		"-t", "queue/#", "-t", "other/+", "-v", "-W", "1")
	again.waitExit(27) // -W timeout: nothing came
	if lines := again.lines(); len(lines) != 0 {
		t.Errorf("after a restart the subscriber got %q", lines)
	}
	for _, l := range midge.lines() {
		if strings.Contains(l, "Imported Mosquitto") {
			t.Errorf("imported again: %s", l)
		}
	}
	midge.signal(syscall.SIGTERM)
	midge.waitExit(0)
	after, err := os.ReadFile(src)
	fi1, _ := os.Stat(src)
	if err != nil || !bytes.Equal(before, after) || !fi1.ModTime().Equal(fi0.ModTime()) {
		t.Errorf("mosquitto.db changed (%v)", err)
	}
}
