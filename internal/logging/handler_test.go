package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
)

var at = time.Unix(1732582800, 0)

// record logs msg at level through a handler for opts and returns stderr.
func logLines(t *testing.T, opts logging.Options, records ...slog.Record) string {
	t.Helper()
	var out bytes.Buffer
	h, err := logging.New(opts, logging.Env{Stderr: &out, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, r := range records {
		if h.Enabled(context.Background(), r.Level) {
			h.Handle(context.Background(), r)
		}
	}
	return out.String()
}

func rec(level slog.Level, msg string, args ...any) slog.Record {
	r := slog.NewRecord(at, level, msg, 0)
	r.Add(args...)
	return r
}

func TestGoldenLines(t *testing.T) {
	t.Parallel()
	records := []slog.Record{
		rec(slog.LevelInfo, "New connection from 127.0.0.1:50000 on port 1883.", "remote", "127.0.0.1:50000"),
		rec(slog.LevelInfo, "New client connected from 127.0.0.1:50000 as alice (p2, c1, k60, u'alice')."),
		rec(slog.LevelInfo, "Opening ipv4 listen socket on port 1883."),
		rec(slog.LevelInfo, "Client alice disconnected."),
		rec(slog.LevelWarn, "Outgoing messages are being dropped for client bob.", "dropped", 1),
		rec(slog.LevelError, "Error: Unable to write pid file."),
		rec(slog.LevelDebug, "Received PUBLISH from alice", "topic", "a/b", "qos", 1),
		rec(slog.LevelInfo, "alice 1 a/#", logging.TypeKey, "subscribe"),
	}
	tests := []struct {
		name string
		opts logging.Options
		want string
	}{
		{"defaults", logging.Defaults(), `1732582800: New connection from 127.0.0.1:50000 on port 1883.
1732582800: New client connected from 127.0.0.1:50000 as alice (p2, c1, k60, u'alice').
1732582800: Opening ipv4 listen socket on port 1883.
1732582800: Client alice disconnected.
1732582800: Outgoing messages are being dropped for client bob.
1732582800: Error: Unable to write pid file.
`},
		{"all", logging.Options{Types: logging.All, Dests: logging.Stderr}, `1732582800: New connection from 127.0.0.1:50000 on port 1883.
1732582800: New client connected from 127.0.0.1:50000 as alice (p2, c1, k60, u'alice').
1732582800: Opening ipv4 listen socket on port 1883.
1732582800: Client alice disconnected.
1732582800: Outgoing messages are being dropped for client bob.
1732582800: Error: Unable to write pid file.
1732582800: Received PUBLISH from alice topic=a/b qos=1
1732582800: alice 1 a/#
`},
		{"notice only", logging.Options{Types: logging.Notice, Dests: logging.Stderr, NoTimestamp: true}, `New connection from 127.0.0.1:50000 on port 1883.
New client connected from 127.0.0.1:50000 as alice (p2, c1, k60, u'alice').
Client alice disconnected.
Outgoing messages are being dropped for client bob.
`},
		{"information only", logging.Options{Types: logging.Info, Dests: logging.Stderr, NoTimestamp: true}, "Opening ipv4 listen socket on port 1883.\n"},
		{"subscribe only", logging.Options{Types: logging.Subscribe, Dests: logging.Stderr, NoTimestamp: true}, "alice 1 a/#\n"},
		{"none", logging.Options{Types: logging.None, Dests: logging.Stderr}, ""},
		{"no destination", logging.Options{Types: logging.All}, ""},
		{"strftime", logging.Options{Types: logging.Error, Dests: logging.Stderr, TimestampFormat: "%Y-%m-%dT%H:%M:%S"},
			at.Local().Format("2006-01-02T15:04:05") + ": Error: Unable to write pid file.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logLines(t, tt.opts, records...); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestStrftime(t *testing.T) {
	t.Parallel()
	tm := time.Date(2024, time.March, 5, 7, 8, 9, 0, time.UTC)
	tests := map[string]string{
		"%Y-%m-%dT%H:%M:%S": "2024-03-05T07:08:09",
		"%F %T":             "2024-03-05 07:08:09",
		"%a %b %e %H %I %p": "Tue Mar  5 07 07 AM",
		"%s":                "1709622489",
		"%j %%":             "065 %",
		"%-d/%-m":           "5/3",
		"[%q]":              "[%q]",
		"%y%A%B":            "24TuesdayMarch",
	}
	for f, want := range tests {
		if got := logging.Strftime(f, tm); got != want {
			t.Errorf("Strftime(%q) = %q, want %q", f, got, want)
		}
	}
}

func TestFileAndReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "m.log")
	h, err := logging.New(logging.Options{Types: logging.DefaultTypes, Dests: logging.File, File: path}, logging.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.Handle(context.Background(), rec(slog.LevelInfo, "one"))
	os.Rename(path, path+".1") // logrotate
	if err := h.Reopen(); err != nil {
		t.Fatal(err)
	}
	h.Handle(context.Background(), rec(slog.LevelInfo, "two"))
	if a, b := testutil.ReadFile(t, path+".1"), testutil.ReadFile(t, path); a != "1732582800: one\n" || b != "1732582800: two\n" {
		t.Errorf("rotated %q, new %q", a, b)
	}
	if _, err := logging.New(logging.Options{Dests: logging.File, File: filepath.Join(dir, "no/such/dir")}, logging.Env{}); err == nil {
		t.Error("unwritable log file accepted")
	}
}

func TestTopic(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]string{}
	done := make(chan struct{}, 10)
	h, err := logging.New(logging.Options{Types: logging.All, Dests: logging.Topic, NoTimestamp: true}, logging.Env{
		Publish: func(topic string, line []byte) {
			mu.Lock()
			got[topic] = string(line)
			mu.Unlock()
			done <- struct{}{}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.Handle(ctx, rec(slog.LevelInfo, "Client a disconnected."))
	h.Handle(ctx, rec(slog.LevelInfo, "Opening ipv4 listen socket on port 1883."))
	h.Handle(ctx, rec(slog.LevelError, "Error: x"))
	h.Handle(ctx, rec(slog.LevelDebug, "never on a topic"))
	h.Handle(ctx, rec(slog.LevelInfo, "a 0 t", logging.TypeKey, "unsubscribe"))
	h.Close() // waits for the publisher
	want := map[string]string{
		"$SYS/broker/log/N":             "Client a disconnected.",
		"$SYS/broker/log/I":             "Opening ipv4 listen socket on port 1883.",
		"$SYS/broker/log/E":             "Error: x",
		"$SYS/broker/log/M/unsubscribe": "a 0 t",
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("published %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if strings.Contains(strings.Join([]string{got["$SYS/broker/log/D"]}, ""), "never") {
		t.Error("debug published")
	}
}
