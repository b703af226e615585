package logging

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Repeats limits a repeated log record to one line per interval: the first
// record of a key is logged in full at once; the ones that follow within
// the interval are only counted, and when it ends one summary line is
// logged, "<message> (N more like this in the last <interval>)", with the
// details of the last of them. The next record after that starts a new
// interval. The zero value is not usable; use NewRepeats. It is safe for
// concurrent use.
type Repeats struct {
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex         // guards pending and stopped
	pending map[string]*repeat // keys logged within the current interval
	stopped bool
}

// repeat is a key's interval: the records counted and the last one's
// details.
type repeat struct {
	n     int
	level slog.Level
	msg   string
	args  []any
	timer *time.Timer
}

// NewRepeats returns a Repeats logging to log, with one full line per key
// and interval.
func NewRepeats(log *slog.Logger, interval time.Duration) *Repeats {
	return &Repeats{log: log, interval: interval, pending: make(map[string]*repeat)}
}

// Log logs msg with args at level, or counts it if a record of the same key
// was logged less than the interval ago.
func (r *Repeats) Log(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	r.mu.Lock()
	if p := r.pending[key]; p != nil {
		p.n++
		p.level, p.msg, p.args = level, msg, args
		r.mu.Unlock()
		return
	}
	if !r.stopped {
		p := &repeat{}
		p.timer = time.AfterFunc(r.interval, func() { r.end(key, p) })
		r.pending[key] = p
	}
	r.mu.Unlock()
	r.log.Log(ctx, level, msg, args...)
}

// end closes key's interval p, logging its summary if it counted records.
func (r *Repeats) end(key string, p *repeat) {
	r.mu.Lock()
	if r.pending[key] != p {
		r.mu.Unlock()
		return // Stop got there first
	}
	delete(r.pending, key)
	r.mu.Unlock()
	r.summary(p)
}

func (r *Repeats) summary(p *repeat) {
	if p.n == 0 {
		return
	}
	r.log.Log(context.Background(), p.level, fmt.Sprintf("%s (%d more like this in the last %v)", p.msg, p.n, r.interval), p.args...)
}

// Stop logs the summaries of the intervals still open and ends them; later
// records are all logged in full. Call it before closing the log.
func (r *Repeats) Stop() {
	r.mu.Lock()
	r.stopped = true
	open := r.pending
	r.pending = make(map[string]*repeat)
	r.mu.Unlock()
	for _, p := range open {
		p.timer.Stop()
		r.summary(p)
	}
}
