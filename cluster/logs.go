package cluster

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// logWriter turns the lines hashicorp's libraries write ("[WARN]  raft:
// heartbeat timeout reached: ...", "2026/.. [DEBUG] memberlist: ...") into
// slog records of its logger, at the level the line names.
type logWriter struct {
	log *slog.Logger
}

// Write logs each line of p. It never fails.
func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte{'\n'}) {
		w.line(string(line))
	}
	return len(p), nil
}

func (w logWriter) line(s string) {
	level := slog.LevelInfo
	if i := strings.Index(s, "["); i >= 0 {
		if j := strings.Index(s[i:], "]"); j > 0 {
			switch s[i+1 : i+j] {
			case "TRACE", "DEBUG":
				level = slog.LevelDebug
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			s = strings.TrimSpace(s[i+j+1:])
		}
	}
	if s == "" {
		return
	}
	w.log.Log(context.Background(), level, s)
}

// hcLogger returns an hclog.Logger (for raft) that writes to log.
func hcLogger(l *slog.Logger, name string) hclog.Logger {
	level := hclog.Info
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        name,
		Level:       level,
		Output:      logWriter{l},
		DisableTime: true,
	})
}

// stdLogger returns a log.Logger (for memberlist, net/http) that writes
// to l, its lines prefixed with name (memberlist's own lines say
// "memberlist:" after the level).
func stdLogger(l *slog.Logger, name string) *log.Logger {
	var w io.Writer = logWriter{l}
	prefix := ""
	if name != "" {
		prefix = name + ": "
	}
	return log.New(w, prefix, 0)
}
