package explore

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/packet"
)

func openTestStore(t *testing.T, path string, lim historyLimits, now func() time.Time) *store {
	t.Helper()
	if lim.maxPayload == 0 {
		lim.maxPayload = 64 << 10
	}
	s, err := openStoreAt(path, lim, slog.New(slog.DiscardHandler), now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreBounds checks the count, age, payload and topic limits, and that
// what is stored is read back after the file is reopened.
func TestStoreBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	base := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := base
	clock := func() time.Time { return now }
	lim := historyLimits{count: 3, age: time.Hour, maxPayload: 8, maxTopics: 2}
	s := openTestStore(t, path, lim, clock)
	var batch []*broker.Message
	for i := range 5 {
		batch = append(batch, &broker.Message{Topic: "a", Payload: []byte(fmt.Sprint(i)), QoS: 1, Received: base.Add(time.Duration(i) * time.Minute)})
	}
	props := &packet.Properties{}
	props.SetString(packet.PropContentType, "text/plain")
	batch = append(batch,
		&broker.Message{Topic: "b", Payload: []byte("0123456789abcdef"), Retain: true, Properties: props, Received: base},
		&broker.Message{Topic: "c", Payload: []byte("beyond maxTopics"), Received: base})
	if err := s.write(batch); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, path, lim, clock)
	a, _ := s.topic("a")
	var got []string
	for _, sm := range a {
		got = append(got, string(sm.rec.Payload))
	}
	if strings.Join(got, ",") != "2,3,4" || a[0].rec.QoS != 1 || !a[0].at.Equal(base.Add(2*time.Minute)) {
		t.Errorf("topic a kept %v (want the last 3)", got)
	}
	b, _ := s.topic("b")
	if len(b) != 1 || string(b[0].rec.Payload) != "01234567" || b[0].rec.Size != 16 || !b[0].rec.Retain ||
		b[0].message("b").Properties.ContentType != "text/plain" {
		t.Errorf("topic b: %+v", b)
	}
	if c, _ := s.topic("c"); len(c) != 0 {
		t.Errorf("a third topic was stored beyond maxTopics 2")
	}
	s.close()

	// An hour and three minutes later, a's oldest two are too old, and b
	// is gone with its message.
	now = base.Add(time.Hour + 3*time.Minute + time.Second)
	s = openTestStore(t, path, lim, clock)
	defer s.close()
	a, _ = s.topic("a")
	if len(a) != 1 || string(a[0].rec.Payload) != "4" {
		t.Errorf("after the age limit, a has %d messages", len(a))
	}
	if b, _ := s.topic("b"); len(b) != 0 {
		t.Errorf("b outlived the age limit")
	}
	n := 0
	s.each(func(string, *storedMessage) bool { n++; return true })
	if n != 1 {
		t.Errorf("each saw %d messages, want 1", n)
	}
	// With a topic gone, a new one may be stored again.
	s.write([]*broker.Message{{Topic: "c", Payload: []byte("x"), Received: now}})
	if c, _ := s.topic("c"); len(c) != 1 {
		t.Errorf("c was not stored after b was pruned")
	}
}

// TestStoreInUse: a second explore on the same connection gets a clear
// error, not a hang.
func TestStoreInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := openTestStore(t, path, historyLimits{count: 1}, time.Now)
	defer s.close()
	_, err := openStoreAt(path, historyLimits{count: 1}, slog.New(slog.DiscardHandler), time.Now)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second open: %v", err)
	}
}

// TestParseOptions checks explore's own options and that the dashboard
// cannot be put on a non-loopback address.
func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-h", "pi.local", "--history", "5", "--max-age", "1h", "--no-browser", "-p", "1884"})
	if err != nil || o.history != 5 || o.maxAge != time.Hour || !o.noBrowser || strings.Join(o.connArgs, " ") != "-h pi.local -p 1884" {
		t.Errorf("%+v %v", o, err)
	}
	for _, bad := range [][]string{{"--http", "0.0.0.0:8080"}, {"--http", "192.168.1.2:0"}, {"--history", "0"}, {"--history"}, {"--max-age", "soon"}} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseOptions([]string{"--http", "[::1]:0"}); err != nil {
		t.Errorf("::1 refused: %v", err)
	}
}

// TestConnectionsFile checks the file's mode and the warning for a file
// others may read.
func TestConnectionsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "c.json")
	cf := &connectionsFile{}
	cf.put(savedConnection{Name: "a", Args: []string{"-h", "x"}})
	cf.put(savedConnection{Name: "a", Args: []string{"-h", "y"}})
	if err := cf.save(path); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", fi.Mode().Perm())
	}
	var warned string
	got, err := loadConnections(path, func(s string) { warned = s })
	if err != nil || len(got.Connections) != 1 || got.Connections[0].Args[1] != "y" || warned != "" {
		t.Errorf("%+v %v %q", got, err, warned)
	}
	os.Chmod(path, 0o644)
	loadConnections(path, func(s string) { warned = s })
	if !strings.Contains(warned, "chmod 600") {
		t.Errorf("no warning for mode 0644: %q", warned)
	}
	if historyFile("", "tcp://pi.local:1883", "alice") != "alice_pi.local_1883.db" && historyFile("", "tcp://pi.local:1883", "alice") == "" {
		t.Error("history file name")
	}
	if f := historyFile("../x", "", ""); strings.Contains(f, "/") {
		t.Errorf("history file %q escapes the directory", f)
	}
}

// TestRefusedOptions: explore exits 1 with the refusal printed once.
func TestRefusedOptions(t *testing.T) {
	var out, errs strings.Builder
	code := Run(t.Context(), "midge explore", []string{"--no-browser", "--cert", "x.crt"}, base.Streams{Out: &out, Err: &errs})
	if code != 1 || errs.String() != "Error: Both certfile and keyfile must be provided if one of them is set.\n" {
		t.Errorf("exit %d, stderr %q", code, errs.String())
	}
}
