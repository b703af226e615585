// Package logging writes the broker's log/slog records the way Mosquitto
// writes its log: one line per message, "1732582800: New client connected
// from ...", to the destinations mosquitto.conf's log_dest names (stdout,
// stderr, a file, syslog, $SYS/broker/log topics), filtered by its log_type.
//
// Only the record's message is written; attributes are dropped (or, for
// debug records, appended as key=value), so log parsers and fail2ban rules
// written for Mosquitto's log keep working.
//
// Each record is classified into one of Mosquitto's log types (error,
// warning, notice, information, debug, subscribe, unsubscribe...). A record
// may say its type with a string attribute named TypeKey; otherwise Debug
// records are "debug", Error records "error", and Info and Warn records are
// classified by their text with the table of Mosquitto's own messages, so
// that "New client connected from ..." is a notice, as in Mosquitto, and
// "Opening ipv4 listen socket on port 1883." is information.
package logging
