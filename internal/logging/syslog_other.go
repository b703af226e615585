//go:build windows || plan9

package logging

// syslogWriter is a stand-in where there is no syslog: lines are dropped.
// Mosquitto writes to the Windows event log instead; midge does not yet.
type syslogWriter struct{}

func newSyslog(string) *syslogWriter { return &syslogWriter{} }

func (s *syslogWriter) write(Type, string) error { return nil }

func (s *syslogWriter) close() {}
