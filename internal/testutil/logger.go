package testutil

import (
	"log/slog"
	"testing"

	"github.com/midge-mqtt/midge/internal/logging"
)

// DefaultLogger returns a logger that writes the lines midge broker writes
// by default (Mosquitto's default log types, with midge's details), without
// timestamps, into the returned buffer, for tests that check what is
// logged. Its handler is closed when the test ends.
func DefaultLogger(t testing.TB) (*slog.Logger, *LockedBuffer) {
	t.Helper()
	out := &LockedBuffer{}
	opts := logging.Defaults()
	opts.NoTimestamp = true
	h, err := logging.New(opts, logging.Env{Stderr: out, Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return slog.New(h), out
}
