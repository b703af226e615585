package db

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/cmd/base"
	"github.com/midge-mqtt/midge/internal/mosqdb"
	"github.com/midge-mqtt/midge/store"
)

const (
	mosquitto2011 = "../../mosqdb/testdata/mosquitto-2.0.11.db"
	goldenText    = "../../mosqdb/testdata/mosquitto-2.0.11.dump.golden"
	goldenJSON    = "../../mosqdb/testdata/mosquitto-2.0.11.json.golden"
)

func run(t *testing.T, prog string, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := Run(context.Background(), prog, args, base.Streams{In: strings.NewReader(""), Out: &out, Err: &errs})
	return code, out.String(), errs.String()
}

// "midge db dump" and mosquitto_db_dump print a Mosquitto file as
// mosquitto_db_dump does.
func TestDumpMosquitto(t *testing.T) {
	for _, tc := range []struct {
		prog   string
		args   []string
		golden string
	}{
		{"midge db", []string{"dump", mosquitto2011}, goldenText},
		{"mosquitto_db_dump", []string{mosquitto2011}, goldenText},
		{"midge db", []string{"dump", "--json", mosquitto2011}, goldenJSON},
	} {
		code, out, errs := run(t, tc.prog, tc.args...)
		want, err := os.ReadFile(tc.golden)
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || out != string(want) || errs != "" {
			t.Errorf("%s %q: exit %d, stderr %q, output:\n%s", tc.prog, tc.args, code, errs, out)
		}
	}
	code, out, _ := run(t, "midge db", "dump", "--stats", mosquitto2011)
	want := "DB_CHUNK_CFG:        1\nDB_CHUNK_BASE_MSG:   4\nDB_CHUNK_CLIENT_MSG: 4\nDB_CHUNK_RETAIN:     1\nDB_CHUNK_SUB:        3\nDB_CHUNK_CLIENT:     2\n"
	if code != 0 || out != want {
		t.Errorf("--stats: exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "midge db", "dump", "--client-stats", mosquitto2011)
	if code != 0 || !strings.Contains(out, "SC: 2 SS: 42 MC: 3 MS: ") || !strings.HasSuffix(strings.Split(out, "\n")[0], "   sub311") {
		t.Errorf("--client-stats: exit %d:\n%s", code, out)
	}
}

// Usage errors and unreadable files exit 1 with a message.
func TestDumpErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.db")
	raw, _ := os.ReadFile(mosquitto2011)
	os.WriteFile(bad, raw[:100], 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage: midge db dump"},
		{[]string{"dump"}, "Usage: midge db dump [--stats | --client-stats | --json] <db filename>"},
		{[]string{"dump", "--yaml", "x"}, "Usage:"},
		{[]string{"dump", filepath.Join(dir, "none.db")}, "Error: unable to open " + filepath.Join(dir, "none.db")},
		{[]string{"dump", bad}, "Error: " + bad + ": truncated DB_CHUNK_BASE_MSG"},
	} {
		code, _, errs := run(t, "midge db", tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, errs, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("dumping a missing file created it")
	}
}

// A midge store is printed in the same style: here the 2.0.11 file
// imported into one.
func TestDumpMidge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "midge.db")
	st, err := store.OpenBolt(path, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := mosqdb.Migration{Source: mosquitto2011, Marker: path + mosqdb.MarkerSuffix, Store: st, Log: slog.New(slog.DiscardHandler)}
	if done, err := m.Run(context.Background()); err != nil || !done {
		t.Fatal(done, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "midge db", "dump", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"midge DB dump\nFile: " + path + "\nLast message ID: 4\n",
		"RETAIN:\n\tTopic: b/x\n\tQoS: 2\n\tRetain: 1\n\tPayload Length: 10\n\tExpiry Time: 0\n\tSource ID: pub3\n\tPayload: retained-b\n",
		"CLIENT:\n\tClient ID: sub5\n\tProtocol version: 5\n\tSession expiry interval: 3600\n",
		"SUB:\n\tClient ID: sub5\n\tTopic: v5/#\n\tQoS: 1\n\tSubscription ID: 7\n\tOptions: 0x0C\n",
		"CLIENT_MSG:\n\tClient ID: sub311\n\tStore ID: 4\n\tSeq: 0\n\tMID: 1\n\tQoS: 1\n\tRetain: 0\n\tSent: 0\n\tReleased: 0\n\tTopic: a/1\n",
		"\tSubscription identifier: 7\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = run(t, "midge db", "dump", "--json", path)
	var js map[string][]map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil {
		t.Fatalf("--json: exit %d %s:\n%s", code, errs, out)
	}
	if len(js["clients"]) != 2 || len(js["client-messages"]) != 4 || len(js["retained-messages"]) != 1 || len(js["subscriptions"]) != 3 {
		t.Errorf("--json:\n%s", out)
	}
}

// --help prints the usage on standard output and exits 0.
func TestHelp(t *testing.T) {
	code, out, _ := run(t, "midge db", "--help")
	if code != 0 || !strings.HasPrefix(out, "Usage: midge db dump [--stats | --client-stats | --json] <db filename>\n") {
		t.Errorf("exit %d: %q", code, out)
	}
}
