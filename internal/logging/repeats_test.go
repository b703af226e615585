package logging_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/internal/testutil"
)

// lines splits what has been logged to b so far into lines.
func lines(b *testutil.LockedBuffer) []string {
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// A burst of the same error is one line with its details, then one summary
// line once the interval is over; another key is not held back.
func TestRepeats(t *testing.T) {
	var out testutil.LockedBuffer
	h, err := logging.New(logging.Options{Types: logging.DefaultTypes, Dests: logging.Stderr, NoTimestamp: true}, logging.Env{Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r := logging.NewRepeats(slog.New(h), 50*time.Millisecond)
	ctx := context.Background()
	for i := range 1000 {
		r.Log(ctx, slog.LevelError, "commit", "persistence: commit failed", "err", "disk full", "n", i)
	}
	r.Log(ctx, slog.LevelError, "other", "something else failed")
	deadline := time.Now().Add(5 * time.Second)
	for len(lines(&out)) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	want := []string{
		`persistence: commit failed err="disk full" n=0`,
		`something else failed`,
		`persistence: commit failed (999 more like this in the last 50ms) err="disk full" n=999`,
	}
	got := lines(&out)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The interval is over: the next one is logged in full again, and Stop
	// writes the summary of an open interval.
	r.Log(ctx, slog.LevelError, "commit", "persistence: commit failed", "err", "disk full", "n", 1000)
	r.Log(ctx, slog.LevelError, "commit", "persistence: commit failed", "err", "disk full", "n", 1001)
	r.Stop()
	got = lines(&out)[3:]
	want = []string{
		`persistence: commit failed err="disk full" n=1000`,
		`persistence: commit failed (1 more like this in the last 50ms) err="disk full" n=1001`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after the interval, lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// midge's own lines carry their details at every level, an error's and a
// recovered panic's stack included; Mosquitto's lines stay as Mosquitto
// writes them.
func TestDetailsAtEveryLevel(t *testing.T) {
	log, out := testutil.DefaultLogger(t)
	log.Error("internal error handling client; closing its connection", "client_id", "c1", "panic", "boom", "stack", "goroutine 1:\nmain.f()")
	log.Warn("accept failed; retrying", "err", "too many open files")
	log.Info("Client c1 disconnected.", "client_id", "c1")
	want := []string{
		`internal error handling client; closing its connection client_id=c1 panic=boom stack="goroutine 1:\nmain.f()"`,
		`accept failed; retrying err="too many open files"`,
		`Client c1 disconnected.`,
	}
	if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
