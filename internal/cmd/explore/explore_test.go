package explore

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testutil"
)

// TestExploreMosquitto runs explore against Debian's mosquitto: a message
// published with mosquitto_pub appears on the dashboard, a publish from the
// dashboard reaches mosquitto_sub, the history survives a restart of
// explore and exports as CSV and JSON, and the dashboard wants the token.
func TestExploreMosquitto(t *testing.T) {
	needTools(t, "mosquitto", "mosquitto_pub", "mosquitto_sub")
	port := startMosquitto(t, nil)
	dir := t.TempDir()
	args := []string{"--state", filepath.Join(dir, "state"), "--connections", filepath.Join(dir, "conns.json"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-V", "5"}
	e := runExplore(t, args...)
	p := strconv.Itoa(port)

	mosquittoPub(t, "-h", "127.0.0.1", "-p", p, "-t", "home/kitchen/temp", "-m", "21.5", "-q", "1", "-r")
	mosquittoPub(t, "-h", "127.0.0.1", "-p", p, "-t", "home/kitchen/temp", "-m", "22.0")
	th := e.waitTopic(t, "home/kitchen/temp", "22.0")
	// Published while explore was subscribed: not retained as received,
	// and with the publisher's QoS (explore subscribes with QoS 2).
	if th.History[0].Payload != "21.5" || th.History[0].Retain || th.History[0].QoS != 1 {
		t.Errorf("history %+v", th.History)
	}
	var me struct {
		Source struct {
			Kind, Server string
			Export       bool
		} `json:"source"`
	}
	e.get(t, "/api/v1/me", &me)
	if me.Source.Kind != "client" || !strings.Contains(me.Source.Server, p) || !me.Source.Export {
		t.Errorf("me.source = %+v", me.Source)
	}

	// A publish from the page reaches mosquitto_sub, with its QoS.
	wait := mosquittoSub(t, port, "home/kitchen/setpoint")
	code, body := e.post(t, "/api/v1/publish", map[string]any{"topic": "home/kitchen/setpoint", "payload": "19", "qos": 1},
		map[string]string{"X-CSRF-Token": e.csrf(t)})
	if code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	if got := wait(); got != "home/kitchen/setpoint 19" {
		t.Errorf("mosquitto_sub printed %q", got)
	}
	e.waitTopic(t, "home/kitchen/setpoint", "19") // and explore sees it come back

	// Without the token's cookie, nothing is served.
	resp, err := http.Get(e.base + "/api/v1/topics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %s", resp.Status)
	}
	resp, _ = http.Get(e.base + "/?token=wrong")
	if resp != nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a wrong token: %s", resp.Status)
		}
	}

	// The history survives a restart.
	e.stop(t)
	e = runExplore(t, args...)
	th = e.waitTopic(t, "home/kitchen/temp", "22.0")
	if len(th.History) != 2 || th.History[0].Payload != "21.5" {
		t.Errorf("after the restart: %+v", th.History)
	}

	// Export. The retained message comes again when explore subscribes
	// anew, and is stored once the writer's batch is committed: three.
	var entries []exportEntry
	deadline := time.Now().Add(10 * time.Second)
	for len(entries) < 3 && time.Now().Before(deadline) {
		e.get(t, "/api/v1/explore/export?topic=home/kitchen/temp&format=json", &entries)
		time.Sleep(50 * time.Millisecond) // polling for a condition, with a deadline
	}
	if len(entries) != 3 || entries[1].Payload != "22.0" || entries[1].Encoding != "utf8" || !entries[2].Retain || entries[2].Payload != "21.5" {
		t.Errorf("JSON export: %+v", entries)
	}
	csvResp, err := e.http.Get(e.base + "/api/v1/explore/export?topic=home/kitchen/temp&format=csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(csvResp.Body).ReadAll()
	csvResp.Body.Close()
	if err != nil || len(rows) != 4 || rows[0][0] != "time" || rows[1][7] != "21.5" || rows[1][2] != "1" || rows[2][7] != "22.0" || rows[3][3] != "true" {
		t.Errorf("CSV export: %v %q", err, rows)
	}
	// Deleting the retained message from the page: mosquitto no longer
	// has it, and the dashboard no longer marks the topic retained.
	if code, body := e.post(t, "/api/v1/retained/delete", map[string]any{"topic": "home/kitchen/temp"},
		map[string]string{"X-CSRF-Token": e.csrf(t)}); code != 200 || !strings.Contains(body, `"deleted":1`) {
		t.Fatalf("delete retained: %d %s", code, body)
	}
	testutil.WaitFor(t, "the topic no longer retained", func() bool {
		var tr struct{ Retained bool }
		e.get(t, "/api/v1/topic?name=home/kitchen/temp", &tr)
		return !tr.Retained
	})
	if out, _ := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", p, "-t", "home/kitchen/temp", "--retained-only", "-W", "1").Output(); len(out) > 0 {
		t.Errorf("mosquitto still has a retained message: %q", out)
	}
	if code, _ := e.post(t, "/api/v1/explore/connect", map[string]string{"name": "x"}, nil); code != http.StatusForbidden {
		t.Errorf("an explore action without its header: %d", code)
	}
}

// TestExploreSavedConnections saves a connection with --save (a file only
// the user can read), then switches between two from the API.
func TestExploreSavedConnections(t *testing.T) {
	needTools(t, "mosquitto", "mosquitto_pub")
	p1, p2 := startMosquitto(t, nil), startMosquitto(t, nil)
	dir := t.TempDir()
	conns := filepath.Join(dir, "conns.json")
	e := runExplore(t, "--state", filepath.Join(dir, "state"), "--connections", conns, "--save", "one",
		"-h", "127.0.0.1", "-p", strconv.Itoa(p1), "-u", "alice", "-P", "secret")
	fi, err := os.Stat(conns)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("connections file mode %04o, want 0600", fi.Mode().Perm())
	}
	hdr := map[string]string{"X-Midge-Explore": "1"}
	if code, body := e.post(t, "/api/v1/explore/connections", map[string]any{"name": "two",
		"args": []string{"-h", "127.0.0.1", "-p", strconv.Itoa(p2)}}, hdr); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	var list struct {
		Current     string
		Connections []connectionInfo
	}
	e.get(t, "/api/v1/explore/connections", &list)
	if list.Current != "one" || len(list.Connections) != 2 || list.Connections[0].User != "alice" {
		t.Errorf("connections %+v", list)
	}
	raw, _ := io.ReadAll(mustOpen(t, conns))
	if strings.Contains(fmt.Sprint(list), "secret") || !strings.Contains(string(raw), "secret") {
		t.Errorf("the password must be in the file and not in the API")
	}
	mosquittoPub(t, "-h", "127.0.0.1", "-p", strconv.Itoa(p2), "-t", "on/two", "-m", "2", "-r")
	if code, body := e.post(t, "/api/v1/explore/connect", map[string]string{"name": "two"}, hdr); code != 200 {
		t.Fatalf("connect: %d %s", code, body)
	}
	e.waitTopic(t, "on/two", "2")
	if code, _ := e.post(t, "/api/v1/explore/connect", map[string]string{"name": "nope"}, hdr); code != http.StatusNotFound {
		t.Errorf("an unknown connection: %d", code)
	}
	// A connection that fails leaves the page on the one it had.
	e.post(t, "/api/v1/explore/connections", map[string]any{"name": "down", "args": []string{"-h", "127.0.0.1", "-p", strconv.Itoa(testutil.FreePort(t))}}, hdr)
	if code, body := e.post(t, "/api/v1/explore/connect", map[string]string{"name": "down"}, hdr); code != http.StatusBadGateway {
		t.Errorf("a connection that fails: %d %s", code, body)
	}
	e.get(t, "/api/v1/explore/connections", &list)
	if list.Current != "two" {
		t.Errorf("after a failed switch, the current connection is %q", list.Current)
	}
	e.waitTopic(t, "on/two", "2")
}

func mustOpen(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestExploreTLSClientCertificate connects to a mosquitto TLS listener
// that requires a client certificate.
func TestExploreTLSClientCertificate(t *testing.T) {
	needTools(t, "mosquitto", "mosquitto_pub")
	pki := testutil.NewPKI(t, "explore")
	srv, cl := pki.Server("mosquitto"), pki.Client("explorer")
	tlsPort := testutil.FreePort(t)
	plain := startMosquitto(t, []string{fmt.Sprintf("listener %d 127.0.0.1", tlsPort),
		"cafile " + pki.CAFile, "certfile " + srv.CertFile, "keyfile " + srv.KeyFile, "require_certificate true"}, tlsPort)
	dir := t.TempDir()
	e := runExplore(t, "--state", filepath.Join(dir, "state"), "--connections", filepath.Join(dir, "c.json"),
		"-h", "localhost", "-p", strconv.Itoa(tlsPort), "--cafile", pki.CAFile, "--cert", cl.CertFile, "--key", cl.KeyFile)
	mosquittoPub(t, "-h", "127.0.0.1", "-p", strconv.Itoa(plain), "-t", "secure/topic", "-m", "tls works")
	e.waitTopic(t, "secure/topic", "tls works")
	if server := e.server(t); !strings.HasPrefix(server, "tls://") {
		t.Errorf("server %q", server)
	}
}

// TestExploreWebSockets connects to a mosquitto WebSockets listener.
func TestExploreWebSockets(t *testing.T) {
	needTools(t, "mosquitto", "mosquitto_pub")
	ws := testutil.FreePort(t)
	plain := startMosquitto(t, []string{fmt.Sprintf("listener %d 127.0.0.1", ws), "protocol websockets"}, ws)
	dir := t.TempDir()
	e := runExplore(t, "--state", filepath.Join(dir, "state"), "--connections", filepath.Join(dir, "c.json"),
		"-L", fmt.Sprintf("ws://127.0.0.1:%d/x/#", ws))
	mosquittoPub(t, "-h", "127.0.0.1", "-p", strconv.Itoa(plain), "-t", "x/ws", "-m", "over websockets")
	e.waitTopic(t, "x/ws", "over websockets")
	if server := e.server(t); !strings.HasPrefix(server, "ws://") {
		t.Errorf("server %q", server)
	}
}
