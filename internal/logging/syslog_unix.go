//go:build !windows && !plan9

package logging

import (
	"log/syslog"
	"sync"
	"time"
)

// syslogWriter writes to the local syslog daemon as Mosquitto does:
// openlog("mosquitto", LOG_PID|LOG_CONS, facility), then one syslog() call
// per line with the priority of the line's type. If the daemon cannot be
// reached the line is dropped and the connection is tried again later.
type syslogWriter struct {
	facility syslog.Priority

	mu        sync.Mutex // guards the fields below
	w         *syslog.Writer
	lastRetry time.Time
}

// syslogRetry is how long a failed syslog connection is left before trying
// again.
const syslogRetry = 10 * time.Second

func newSyslog(facility string) *syslogWriter {
	s := &syslogWriter{facility: syslog.LOG_DAEMON}
	if f, ok := syslogFacilities[facility]; ok {
		s.facility = f
	}
	s.w, _ = syslog.New(s.facility|syslog.LOG_INFO, "mosquitto")
	s.lastRetry = time.Now()
	return s
}

var syslogFacilities = map[string]syslog.Priority{
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

func (s *syslogWriter) write(t Type, line string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		if time.Since(s.lastRetry) < syslogRetry {
			return nil
		}
		s.lastRetry = time.Now()
		w, err := syslog.New(s.facility|syslog.LOG_INFO, "mosquitto")
		if err != nil {
			return nil // no syslog daemon: nothing to report it to either
		}
		s.w = w
	}
	// Mosquitto's priorities (src/logging.c).
	switch t {
	case Error:
		return s.w.Err(line)
	case Warning:
		return s.w.Warning(line)
	case Notice, Subscribe, Unsubscribe:
		return s.w.Notice(line)
	case Info:
		return s.w.Info(line)
	default:
		return s.w.Debug(line)
	}
}

func (s *syslogWriter) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
}
