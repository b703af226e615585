package logging

import (
	"log/slog"
	"strings"
)

// Type is a set of Mosquitto log types (log_type), one bit each.
type Type uint32

// The log types of mosquitto.conf's log_type option.
const (
	Info        Type = 1 << iota // "information"
	Notice                       // "notice"
	Warning                      // "warning"
	Error                        // "error"
	Debug                        // "debug"
	Subscribe                    // "subscribe"
	Unsubscribe                  // "unsubscribe"
	Websockets                   // "websockets"
	Internal                     // "internal" (Mosquitto 2.1)

	// None selects nothing ("log_type none").
	None Type = 0
	// All selects every type ("log_type all", or the -v flag).
	All Type = ^Type(0)
	// DefaultTypes is what Mosquitto logs when log_type is not given:
	// error, warning, notice and information.
	DefaultTypes = Error | Warning | Notice | Info
)

var typeNames = []struct {
	name string
	t    Type
}{
	{"information", Info}, {"notice", Notice}, {"warning", Warning}, {"error", Error},
	{"debug", Debug}, {"subscribe", Subscribe}, {"unsubscribe", Unsubscribe},
	{"websockets", Websockets}, {"internal", Internal},
}

// ParseType returns the type named as in log_type: "information", "notice",
// "warning", "error", "debug", "subscribe", "unsubscribe", "websockets",
// "internal", "none" or "all". ok is false for any other name.
func ParseType(name string) (t Type, ok bool) {
	switch name {
	case "none":
		return None, true
	case "all":
		return All, true
	}
	for _, n := range typeNames {
		if n.name == name {
			return n.t, true
		}
	}
	return 0, false
}

// String returns the log_type names in t separated by commas, "none" or "all".
func (t Type) String() string {
	switch t {
	case None:
		return "none"
	case All:
		return "all"
	}
	var names []string
	for _, n := range typeNames {
		if t&n.t != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// Dest is a set of log destinations (log_dest), one bit each.
type Dest uint8

// The destinations of mosquitto.conf's log_dest option. Mosquitto's "dlt"
// and "android" are not supported.
const (
	Stdout Dest = 1 << iota // "stdout"
	Stderr                  // "stderr"
	File                    // "file PATH"
	Syslog                  // "syslog"
	Topic                   // "topic": $SYS/broker/log/...
)

// ParseDest returns the destination named as in log_dest ("stdout",
// "stderr", "file", "syslog", "topic"; "none" is the empty set). ok is false
// for any other name.
func ParseDest(name string) (d Dest, ok bool) {
	switch name {
	case "none":
		return 0, true
	case "stdout":
		return Stdout, true
	case "stderr":
		return Stderr, true
	case "file":
		return File, true
	case "syslog":
		return Syslog, true
	case "topic":
		return Topic, true
	}
	return 0, false
}

// TypeKey is the name of a string attribute by which a record states its
// Mosquitto log type ("subscribe", "notice", ...), overriding the
// classification by level and text.
const TypeKey = "log_type"

// LevelNotice is a slog level between Info and Warn that the handler writes
// as Mosquitto's "notice" type, for callers that prefer a level to TypeKey.
const LevelNotice = slog.LevelInfo + 2

// noticePrefixes are the beginnings of the messages Mosquitto 2.0 logs as
// MOSQ_LOG_NOTICE (src/net.c, src/handle_connect.c, src/loop.c,
// src/mosquitto.c, src/conf.c...). The broker logs them at Info or Warn.
var noticePrefixes = []string{
	"New connection from ",
	"New client connected from ",
	"New bridge connected from ",
	"Client ", // disconnected, closed its connection, has exceeded timeout, not authorised...
	"Socket error on client ",
	"Bad socket read/write on client ",
	"Outgoing messages are being dropped for client ",
	"Expiring client ",
	"Starting in local only mode.",
	"Create a configuration file which defines a listener",
	"For more details see https://mosquitto.org/",
	"Dropped too large PUBLISH from ",
	"Reloading config.",
	"The '", // "The 'port' option is now deprecated..."
	"Note: ",
}

// errorTexts are messages Mosquitto logs as MOSQ_LOG_ERR although they read
// like notices; checked before noticePrefixes.
var errorTexts = []struct{ prefix, suffix string }{
	{"Client ", " already connected, closing old connection."},
}

// mosquittoText reports whether msg is one of Mosquitto's own log messages,
// which are written without the record's attributes.
func mosquittoText(msg string) bool {
	if strings.HasPrefix(msg, "Error: ") || strings.HasPrefix(msg, "Warning: ") ||
		strings.HasPrefix(msg, "Opening ipv") {
		return true
	}
	return listedType(msg) != 0
}

// listedType returns Error for a message in errorTexts, else Notice for
// one that begins with one of noticePrefixes, else 0.
func listedType(msg string) Type {
	for _, e := range errorTexts {
		if strings.HasPrefix(msg, e.prefix) && strings.HasSuffix(msg, e.suffix) {
			return Error
		}
	}
	for _, p := range noticePrefixes {
		if strings.HasPrefix(msg, p) {
			return Notice
		}
	}
	return 0
}

// classify returns the Mosquitto log type of a record.
func classify(r slog.Record) Type {
	var typ Type
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == TypeKey {
			if t, ok := ParseType(a.Value.String()); ok && t != None && t != All {
				typ = t
			}
			return false
		}
		return true
	})
	if typ != 0 {
		return typ
	}
	switch {
	case r.Level >= slog.LevelError:
		return Error
	case r.Level < slog.LevelInfo:
		return Debug
	case r.Level == LevelNotice:
		return Notice
	}
	msg := r.Message
	if t := listedType(msg); t != 0 {
		return t
	}
	if r.Level >= slog.LevelWarn || strings.HasPrefix(msg, "Warning: ") {
		return Warning
	}
	if strings.HasPrefix(msg, "Error: ") {
		return Error
	}
	return Info
}

// topicFor returns the $SYS topic Mosquitto publishes a log line of type t
// on, "" for types never published (debug, internal).
func topicFor(t Type) string {
	switch t {
	case Error:
		return "$SYS/broker/log/E"
	case Warning:
		return "$SYS/broker/log/W"
	case Notice:
		return "$SYS/broker/log/N"
	case Info:
		return "$SYS/broker/log/I"
	case Subscribe:
		return "$SYS/broker/log/M/subscribe"
	case Unsubscribe:
		return "$SYS/broker/log/M/unsubscribe"
	case Websockets:
		return "$SYS/broker/log/WS"
	}
	return ""
}
