package broker

import (
	"io"
	"os"
	"sync"

	"github.com/midge-mqtt/midge/internal/cmd/base"
)

// daemonEnv is set, to the descriptor of the readiness pipe, in the
// environment of the background process -d starts.
const daemonEnv = "MIDGE_DAEMON_READY_FD"

// readiness tells the foreground process of -d how start-up went: start-up
// messages are copied to it, then a zero byte says the broker serves; the
// pipe closing without it says start-up failed. Outside -d it does nothing.
type readiness struct {
	pipe *os.File
	w    *switchWriter
}

func daemonReady(st base.Streams) *readiness {
	r := &readiness{pipe: daemonPipe()}
	if r.pipe != nil {
		r.w = &switchWriter{w: r.pipe}
	} else {
		r.w = &switchWriter{w: st.Err}
	}
	return r
}

// stderr is where start-up messages (and later log_dest stderr) go.
func (r *readiness) stderr() io.Writer { return r.w }

// done reports success to the foreground process.
func (r *readiness) done() {
	if r.pipe == nil {
		return
	}
	r.w.set(io.Discard)
	r.pipe.Write([]byte{0})
	r.pipe.Close()
}

// fail reports failure to the foreground process.
func (r *readiness) fail() {
	if r.pipe != nil {
		r.w.set(io.Discard)
		r.pipe.Close()
	}
}

// switchWriter is an io.Writer whose destination can change; it is safe for
// concurrent use.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(p)
	return len(p), nil
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}
