package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options says what is logged where, as mosquitto.conf's log_* options do.
// The zero value logs nothing; Defaults returns Mosquitto's defaults.
type Options struct {
	// Types selects the log types written (log_type).
	Types Type
	// Dests are the destinations (log_dest). Zero logs nothing.
	Dests Dest
	// File is the path written when Dests has File (log_dest file PATH). It
	// is opened for appending, and reopened by Reopen (SIGHUP).
	File string
	// NoTimestamp drops the "1732582800: " prefix (log_timestamp false).
	NoTimestamp bool
	// TimestampFormat, if set, is a strftime(3) format for the timestamp in
	// local time (log_timestamp_format) instead of Unix seconds.
	TimestampFormat string
	// SyslogFacility is "" for daemon (the default) or "local0".."local7"
	// (log_facility 0..7).
	SyslogFacility string
}

// Defaults returns Mosquitto's defaults: error, warning, notice and
// information to stderr, with Unix-seconds timestamps.
func Defaults() Options {
	return Options{Types: DefaultTypes, Dests: Stderr}
}

// Env is what a Handler writes to besides files and syslog.
type Env struct {
	// Stdout and Stderr are the standard streams (log_dest stdout, stderr).
	Stdout, Stderr io.Writer
	// Publish, if set, publishes a log line on a $SYS/broker/log topic
	// (log_dest topic). It is called from one goroutine of the Handler, never
	// while a caller of Handle waits, so it may itself log.
	Publish func(topic string, payload []byte)
	// Now returns the time for timestamps; if nil, time.Now.
	Now func() time.Time
}

// Handler is a slog.Handler that writes Mosquitto-style log lines. It is
// safe for concurrent use; derived handlers (WithAttrs, WithGroup) share its
// destinations. Close it when done.
type Handler struct {
	out    *output
	attrs  []slog.Attr // for lines that show their details
	prefix string      // group prefix for attrs
}

var _ slog.Handler = (*Handler)(nil)

// output holds the open destinations shared by a Handler and its children.
type output struct {
	env Env

	mu   sync.Mutex // guards the fields below and serializes writes
	opts Options
	file *os.File
	sys  *syslogWriter

	topicq  chan topicLine // nil unless Dests has Topic
	topicWG sync.WaitGroup
	closed  bool
}

type topicLine struct {
	topic string
	line  []byte
}

// topicQueueLen bounds the log lines waiting to be published on $SYS topics;
// more are dropped rather than slowing the broker down.
const topicQueueLen = 1024

// New returns a Handler for opts. It returns an error if the log file cannot
// be opened, in which case nothing is left open.
func New(opts Options, env Env) (*Handler, error) {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	o := &output{env: env}
	if err := o.reconfigure(opts); err != nil {
		return nil, err
	}
	return &Handler{out: o}, nil
}

// Reconfigure switches h (and every handler derived from it) to opts, as
// Mosquitto does on SIGHUP: the log file is closed and opened again (even if
// its name did not change, so log rotation works) and syslog is reopened.
// If the new file cannot be opened, the old configuration stays and the
// error is returned.
func (h *Handler) Reconfigure(opts Options) error { return h.out.reconfigure(opts) }

// Reopen closes and reopens the log file, for log rotation.
func (h *Handler) Reopen() error {
	h.out.mu.Lock()
	opts := h.out.opts
	h.out.mu.Unlock()
	return h.out.reconfigure(opts)
}

// Options returns the options in effect.
func (h *Handler) Options() Options {
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	return h.out.opts
}

// Close closes the log file and syslog and stops publishing on topics. Lines
// logged afterwards go to stdout/stderr only.
func (h *Handler) Close() error {
	o := h.out
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	var err error
	if o.file != nil {
		err = o.file.Close()
		o.file = nil
	}
	if o.sys != nil {
		o.sys.close()
		o.sys = nil
	}
	q := o.topicq
	o.topicq = nil
	o.mu.Unlock()
	if q != nil {
		close(q)
		o.topicWG.Wait()
	}
	return err
}

func (o *output) reconfigure(opts Options) error {
	var file *os.File
	if opts.Dests&File != 0 {
		if opts.File == "" {
			return errors.New("logging: log_dest file without a file name")
		}
		f, err := os.OpenFile(opts.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("Unable to open log file %s for writing: %w", opts.File, err)
		}
		file = f
	}
	var sys *syslogWriter
	if opts.Dests&Syslog != 0 {
		sys = newSyslog(opts.SyslogFacility)
	}
	o.mu.Lock()
	oldFile, oldSys := o.file, o.sys
	o.opts, o.file, o.sys = opts, file, sys
	var startTopic bool
	if opts.Dests&Topic != 0 && o.topicq == nil && !o.closed && o.env.Publish != nil {
		o.topicq = make(chan topicLine, topicQueueLen)
		startTopic = true
	}
	q := o.topicq
	o.mu.Unlock()
	if startTopic {
		o.topicWG.Add(1)
		go o.publishLoop(q)
	}
	if oldFile != nil {
		oldFile.Close()
	}
	if oldSys != nil {
		oldSys.close()
	}
	return nil
}

func (o *output) publishLoop(q chan topicLine) {
	defer o.topicWG.Done()
	for tl := range q {
		o.env.Publish(tl.topic, tl.line)
	}
}

// Enabled reports whether records at level may be written.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	h.out.mu.Lock()
	opts := h.out.opts
	h.out.mu.Unlock()
	if opts.Dests == 0 || opts.Types == None {
		return false
	}
	if level < slog.LevelInfo {
		// Debug records, and records that say they are subscribe or
		// unsubscribe messages, may be logged at debug level.
		return opts.Types&(Debug|Subscribe|Unsubscribe|Websockets|Internal) != 0
	}
	return true
}

// WithAttrs returns a handler whose lines that show their details (see the
// package documentation) also show attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], qualify(h.prefix, attrs)...)
	return &h2
}

// WithGroup returns a handler that prefixes the names of later attributes.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

func qualify(prefix string, attrs []slog.Attr) []slog.Attr {
	if prefix == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: prefix + a.Key, Value: a.Value}
	}
	return out
}

// Handle writes r as one line to each destination, if its type is selected.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	typ := classify(r)
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	opts := o.opts
	if opts.Types&typ == 0 || opts.Dests == 0 {
		return nil
	}
	line := h.format(r, typ, opts)
	var errs []error
	write := func(w io.Writer) {
		if _, err := w.Write(line); err != nil {
			errs = append(errs, err)
		}
	}
	if opts.Dests&Stdout != 0 {
		write(o.env.Stdout)
	}
	if opts.Dests&Stderr != 0 {
		write(o.env.Stderr)
	}
	if opts.Dests&File != 0 && o.file != nil {
		write(o.file)
	}
	text := line[:len(line)-1] // without the newline
	if o.sys != nil {
		if err := o.sys.write(typ, string(text)); err != nil {
			errs = append(errs, err)
		}
	}
	if o.topicq != nil {
		if topic := topicFor(typ); topic != "" {
			select {
			case o.topicq <- topicLine{topic: topic, line: append([]byte(nil), text...)}:
			default: // the broker is not keeping up: drop, never block
			}
		}
	}
	return errors.Join(errs...)
}

// lineMax is the longest line Mosquitto writes: it formats each line, its
// timestamp included, into a buffer of 1,000 bytes, so that at most 999
// bytes come before the newline and a longer line is cut there, inside a
// UTF-8 sequence if need be. A 65,535-byte topic then costs the log no more
// than a short one, and cannot hold up the broker on a slow log pipe.
const lineMax = 999

// ownErrorMax is the longest error line of midge's own (not Mosquitto's
// text): a recovered panic's stack is kept, within a bound.
const ownErrorMax = 16 << 10

// format returns the line for r, with its newline, cut at lineMax bytes (an
// error line of midge's own at ownErrorMax).
func (h *Handler) format(r slog.Record, typ Type, opts Options) []byte {
	own := !mosquittoText(r.Message)
	limit := lineMax
	if own && r.Level >= slog.LevelError {
		limit = ownErrorMax
	}
	var b strings.Builder
	if !opts.NoTimestamp {
		t := r.Time
		if t.IsZero() {
			t = h.out.env.Now()
		}
		if opts.TimestampFormat != "" {
			ts := Strftime(opts.TimestampFormat, t.Local())
			if ts == "" {
				ts = "Time error" // what Mosquitto writes when strftime fails
			}
			b.WriteString(ts)
		} else {
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		}
		b.WriteString(": ")
	}
	msg := strings.TrimRight(r.Message, "\n")
	b.WriteString(msg[:max(0, min(len(msg), limit+1-b.Len()))]) // a byte over the limit: cut below
	if typ == Debug || own {
		// Details go with every line of midge's own; Mosquitto's lines
		// stay as Mosquitto writes them, for the parsers that read them.
		add := func(a slog.Attr) bool {
			if b.Len() > limit {
				return false // cut below; the rest would not show
			}
			if a.Key == TypeKey || a.Equal(slog.Attr{}) {
				return true
			}
			b.WriteByte(' ')
			b.WriteString(a.Key)
			b.WriteByte('=')
			b.WriteString(quoteIfNeeded(a.Value.Resolve().String()))
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(func(a slog.Attr) bool {
			return add(slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
		})
	}
	n := min(b.Len(), limit)
	line := make([]byte, n+1)
	copy(line, b.String()[:n])
	line[n] = '\n'
	return line
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.Quote(s)
	}
	return s
}
