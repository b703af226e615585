//go:build unix

package broker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/midge-mqtt/midge/internal/testutil"
	"github.com/midge-mqtt/midge/packet"
)

// ask publishes a $CONTROL/broker/v1 request and returns the response.
func ask(t *testing.T, c *testutil.Client, req string) map[string]any {
	t.Helper()
	c.Send(&packet.Publish{Topic: "$CONTROL/broker/v1", Payload: []byte(req)})
	p := testutil.Expect[*packet.Publish](c)
	if p.Topic != "$CONTROL/broker/v1/response" {
		t.Fatalf("response on %q", p.Topic)
	}
	var m map[string]any
	if err := json.Unmarshal(p.Payload, &m); err != nil {
		t.Fatalf("response %q: %v", p.Payload, err)
	}
	return m
}

// TestEnableControlAPI: with enable_control_api true, $CONTROL/broker/v1
// answers listListeners and listPlugins in the envelope mosquitto_ctrl
// reads, and refuses bad requests as Mosquitto 2.1 does; without it, the
// endpoint is not available.
func TestEnableControlAPI(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "s")
	_, port := runConf(t, "enable_control_api true\nlistener PORT 127.0.0.1\nallow_anonymous true\nlistener 0 "+sock+"\nlog_dest none\n")
	c, _ := testutil.Connect(t, "127.0.0.1:"+port, packet.Version311, "ctl")
	c.Subscribe(1, "$CONTROL/broker/v1/response", 0)

	got := ask(t, c, `{"commands":[{"command":"listListeners","correlationData":"x1"}]}`)
	b, _ := json.Marshal(got)
	want := `{"responses":[{"command":"listListeners","correlationData":"x1","data":{"listeners":[` +
		`{"bind-address":"127.0.0.1","port":` + port + `,"protocol":"mqtt","tls":false},` +
		`{"port":0,"protocol":"mqtt","socket-path":"` + sock + `","tls":false}]}}]}`
	if string(b) != want {
		t.Errorf("listListeners:\n%s\nwant\n%s", b, want)
	}
	got = ask(t, c, `{"commands":[{"command":"listPlugins"},{"command":"reboot"}]}`)
	b, _ = json.Marshal(got)
	if want := `{"responses":[{"command":"listPlugins","data":{"plugins":[]}},{"command":"reboot","error":"Unknown command"}]}`; string(b) != want {
		t.Errorf("listPlugins:\n%s\nwant\n%s", b, want)
	}
	got = ask(t, c, `not json`)
	b, _ = json.Marshal(got)
	if want := `{"responses":[{"command":"Unknown command","error":"Payload not valid JSON"}]}`; string(b) != want {
		t.Errorf("bad JSON:\n%s\nwant\n%s", b, want)
	}

	// Off (the default): the endpoint is not available.
	_, port2 := runConf(t, "listener PORT 127.0.0.1\nallow_anonymous true\nlog_dest none\n")
	c2, _ := testutil.Connect(t, "127.0.0.1:"+port2, packet.Version311, "ctl")
	c2.Subscribe(1, "$CONTROL/broker/v1/response", 0)
	if got := ask(t, c2, `{"commands":[{"command":"listListeners"}]}`); got["error"] != "endpoint not available" {
		t.Errorf("without enable_control_api: %v", got)
	}
}

// TestEnableControlAPIReload: a reload (SIGHUP) turns the endpoint on and
// off, as enable_control_api is reloadable in Mosquitto 2.1.
func TestEnableControlAPIReload(t *testing.T) {
	t.Parallel()
	b, port := runConf(t, "listener PORT 127.0.0.1\nallow_anonymous true\nlog_dest none\n")
	c, _ := testutil.Connect(t, "127.0.0.1:"+port, packet.Version311, "ctl")
	c.Subscribe(1, "$CONTROL/broker/v1/response", 0)
	conf := b.opts.configFile
	write := func(on string) {
		if err := os.WriteFile(conf, []byte("enable_control_api "+on+"\nlistener "+port+" 127.0.0.1\nallow_anonymous true\nlog_dest none\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		b.reload()
	}
	write("true")
	if got := ask(t, c, `{"commands":[{"command":"listPlugins"}]}`); got["responses"] == nil {
		t.Errorf("after turning it on: %v", got)
	}
	write("false")
	if got := ask(t, c, `{"commands":[{"command":"listPlugins"}]}`); got["error"] != "endpoint not available" {
		t.Errorf("after turning it off: %v", got)
	}
}
