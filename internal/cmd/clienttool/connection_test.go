package clienttool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseConnection checks what other commands get from midge sub's
// connection options: the address for TCP, TLS and WebSockets, the
// credentials, an options file (-o), and the -t filters when given.
func TestParseConnection(t *testing.T) {
	c, err := ParseConnection([]string{"-h", "pi.local", "-u", "alice", "-P", "secret", "-V", "5", "-i", "me"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "tcp://pi.local:1883" || c.Options.Username != "alice" || string(c.Options.Password) != "secret" ||
		c.Options.ClientID != "me" || c.Options.ProtocolVersion != 5 || len(c.Subscriptions) != 0 || c.QoSGiven {
		t.Errorf("%+v", c)
	}
	if c.Options.OnPacket != nil {
		t.Error("OnPacket is sub's debug printer")
	}
	c, err = ParseConnection([]string{"-L", "ws://127.0.0.1:9001/a/#", "-q", "1", "-t", "b/+"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "ws://127.0.0.1:9001/mqtt" || len(c.Subscriptions) != 2 || c.Subscriptions[1].Filter != "b/+" ||
		c.Subscriptions[0].QoS != 1 || !c.QoSGiven {
		t.Errorf("%+v", c)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	os.WriteFile(ca, []byte("not used before dialing"), 0o600)
	opts := filepath.Join(dir, "opts")
	os.WriteFile(opts, []byte("-h broker.example.com\n--cafile "+ca+"\n"), 0o600)
	c, err = ParseConnection([]string{"-o", opts})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "tls://broker.example.com:8883" || c.Options.TLS == nil {
		t.Errorf("options file: %+v", c.Server)
	}
	if _, err := ParseConnection([]string{"--help"}); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if _, err := ParseConnection([]string{"--cert", "x.crt"}); err == nil || !strings.Contains(err.Error(), "Both certfile and keyfile") {
		t.Errorf("--cert without --key: %v", err)
	}
}
