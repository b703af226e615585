package logging_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/internal/logging"
)

// A line is cut as Mosquitto cuts it: 999 bytes, timestamp included, then
// the newline, even inside a UTF-8 sequence (Mosquitto 2.0.11 formats the
// line into a 1,000-byte buffer). Issue 14 item 10.
func TestLineCap(t *testing.T) {
	t.Parallel()
	topic := strings.Repeat("é", 3000)
	opts := logging.Options{Types: logging.All, Dests: logging.Stderr}
	got := logLines(t, opts, rec(slog.LevelDebug, "alice 0 "+topic, logging.TypeKey, "subscribe"))
	want := ("1732582800: alice 0 " + topic)[:999] + "\n"
	if got != want {
		t.Errorf("line of %d bytes ending %q, want %d ending %q", len(got), got[max(0, len(got)-8):], len(want), want[len(want)-8:])
	}

	// Mosquitto's text, without a timestamp: the message alone is cut.
	opts.NoTimestamp = true
	long := "Client " + strings.Repeat("c", 5000) + " disconnected."
	if got := logLines(t, opts, rec(slog.LevelInfo, long)); got != long[:999]+"\n" {
		t.Errorf("line of %d bytes, want 1000", len(got))
	}

	// Details of midge's own lines count too, and stop at the limit.
	got = logLines(t, opts, rec(slog.LevelInfo, "persistence: slow", "client_id", strings.Repeat("x", 2000), "other", "y"))
	if len(got) != 1000 || !strings.HasPrefix(got, "persistence: slow client_id=xxx") || strings.Contains(got, "other") {
		t.Errorf("own line of %d bytes: %.60q", len(got), got)
	}

	// An error of midge's own keeps a recovered panic's stack, within a
	// bound.
	stack := strings.Repeat("goroutine 1 [running]:\n", 300) // 6.9 KB
	got = logLines(t, opts, rec(slog.LevelError, "internal error handling client; closing its connection", "stack", stack))
	if !strings.Contains(got, "stack=") || !strings.HasSuffix(got, `\n"`+"\n") {
		t.Errorf("the stack was cut: the line has %d bytes", len(got))
	}
	got = logLines(t, opts, rec(slog.LevelError, "internal error handling client; closing its connection", "stack", strings.Repeat(stack, 10)))
	if len(got) != 16<<10+1 {
		t.Errorf("an error line of %d bytes, want %d", len(got), 16<<10+1)
	}
}
