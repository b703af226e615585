// Package logging writes the broker's log/slog records the way Mosquitto
// writes its log: one line per message, "1732582800: New client connected
// from ...", to the destinations mosquitto.conf's log_dest names (stdout,
// stderr, a file, syslog, $SYS/broker/log topics), filtered by its log_type.
//
// Mosquitto's own messages ("New client connected from ...", "Client ...
// disconnected.") are written as Mosquitto writes them, without the
// record's attributes, so that log parsers and fail2ban rules written for
// Mosquitto's log keep working; at debug level they get their attributes
// too. Every other line (midge's own: "persistence: commit failed", a
// recovered panic) carries its attributes as key=value at every level, an
// error or a stack included, quoted onto the one line.
//
// Each line is cut at 999 bytes before its newline, timestamp included,
// as Mosquitto cuts it, so that a huge topic costs the log no more than a
// short one; midge's own error lines (a recovered panic's stack) at 16 KiB.
//
// Repeats keeps an error that recurs many times a second from flooding the
// log: the first occurrence is written in full, the others are counted and
// summed up once the interval is over.
//
// Each record is classified into one of Mosquitto's log types (error,
// warning, notice, information, debug, subscribe, unsubscribe...). A record
// may say its type with a string attribute named TypeKey; otherwise Debug
// records are "debug", Error records "error", and Info and Warn records are
// classified by their text with the table of Mosquitto's own messages, so
// that "New client connected from ..." is a notice, as in Mosquitto, and
// "Opening ipv4 listen socket on port 1883." is information.
package logging
