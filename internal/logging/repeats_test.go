package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/logging"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.b.String(), "\n"), "\n")
}

// A burst of the same error is one line with its details, then one summary
// line once the interval is over; another key is not held back.
func TestRepeats(t *testing.T) {
	var out lockedBuffer
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
	for len(out.lines()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	want := []string{
		`persistence: commit failed err="disk full" n=0`,
		`something else failed`,
		`persistence: commit failed (999 more like this in the last 50ms) err="disk full" n=999`,
	}
	got := out.lines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The interval is over: the next one is logged in full again, and Stop
	// writes the summary of an open interval.
	r.Log(ctx, slog.LevelError, "commit", "persistence: commit failed", "err", "disk full", "n", 1000)
	r.Log(ctx, slog.LevelError, "commit", "persistence: commit failed", "err", "disk full", "n", 1001)
	r.Stop()
	got = out.lines()[3:]
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
	var out lockedBuffer
	opts := logging.Defaults()
	opts.NoTimestamp = true
	h, err := logging.New(opts, logging.Env{Stderr: &out, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log := slog.New(h)
	log.Error("internal error handling client; closing its connection", "client_id", "c1", "panic", "boom", "stack", "goroutine 1:\nmain.f()")
	log.Warn("accept failed; retrying", "err", "too many open files")
	log.Info("Client c1 disconnected.", "client_id", "c1")
	want := []string{
		`internal error handling client; closing its connection client_id=c1 panic=boom stack="goroutine 1:\nmain.f()"`,
		`accept failed; retrying err="too many open files"`,
		`Client c1 disconnected.`,
	}
	if got := out.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
