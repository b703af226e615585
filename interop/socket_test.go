package interop_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUnixSocket serves a Unix socket listener (listener 0 PATH) that
// mosquitto_sub --unix and mosquitto_pub --unix use, beside a TCP listener
// that reaches the same subscribers, and logs those clients as Mosquitto
// does.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	// Mosquitto 2.0 creates the socket after switching to the mosquitto
	// user, midge before: a directory anyone may write to suits both.
	sockDir := makeDir(t, dir, "run", 0o777)
	sock := filepath.Join(sockDir, "midge.sock")
	b, ports := startMidge(t, dir, 1, func(p []string) string {
		return "allow_anonymous true\nlistener 0 " + sock + "\nlistener " + p[0] + " 127.0.0.1\n"
	})
	for _, v := range mqttVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			topic := "unix/" + v.name
			sub := startMosquitto(t, "mosquitto_sub", "-d", "--unix", sock, "-V", v.flag, "-q", "1", "-t", topic, "-F", msgFormat)
			sub.waitLine("Subscribed (mid:")
			out := startMosquitto(t, "mosquitto_pub", "-d", "--unix", sock, "-V", v.flag, "-q", "1", "-t", topic, "-m", "over the socket").wait()
			wantContains(t, "mosquitto_pub --unix", out, "received CONNACK (0)", "received PUBACK")
			mosqPub(t, ports[0], "-q", "1", "-t", topic, "-m", "over TCP")
			wantLines(t, "mosquitto_sub --unix", messages(sub, 2), []string{"1 0 " + topic + " over the socket", "1 0 " + topic + " over TCP"})
		})
	}
	// Mosquitto logs a Unix socket client as "New connection from PATH:0 on
	// port 0." and "New client connected from PATH:0 as ID (...)".
	t.Run("log", func(t *testing.T) {
		t.Parallel()
		startMosquitto(t, "mosquitto_sub", "-d", "--unix", sock, "-i", "unix-logged", "-t", "unix/log").waitLine("Subscribed (mid:")
		connected := b.waitLine(" as unix-logged (")
		if !strings.Contains(connected, "New client connected from "+sock+":0 as ") {
			t.Errorf("the broker logged %q, want Mosquitto's \"New client connected from %s:0 as unix-logged (...\"", connected, sock)
		}
	})
}

// TestBindInterface binds a listener to the loopback interface
// (bind_interface lo) and publishes through it. midge binds with
// SO_BINDTODEVICE before dropping root privileges (as an unprivileged user
// it needs CAP_NET_RAW); Mosquitto binds to the interface's addresses
// instead, which any user may do.
func TestBindInterface(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	dir := worldDir(t)
	_, ports := startMidge(t, dir, 1, func(p []string) string {
		return "allow_anonymous true\nlistener " + p[0] + "\nbind_interface lo\n"
	})
	sub := mosqSub(t, ports[0], "-q", "1", "-t", "iface/lo", "-F", msgFormat)
	mosqPub(t, ports[0], "-q", "1", "-t", "iface/lo", "-m", "through lo")
	wantLines(t, "mosquitto_sub", messages(sub, 1), []string{"1 0 iface/lo through lo"})
}
