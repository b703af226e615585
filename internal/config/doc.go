// Package config reads mosquitto.conf, the configuration file of Eclipse
// Mosquitto 2.0 and 2.1, into a broker.Config and the process settings
// around it (pid file, user, logging, persistence, TLS files).
//
// The file is read as Mosquitto reads it: a line whose first character is
// '#' is a comment; an option name and its value are separated by blanks;
// options that configure a listener apply to the most recent "listener" line
// of the same file, or, before any, to the default listener (port 1883, or
// the "port" option), which using them creates; "include_dir" reads every
// file ending in ".conf" of a directory, in Mosquitto's order.
//
// Every option of the Mosquitto 2.0 and 2.1 manual pages is known. An option
// midge implements is mapped onto broker.Config; one it does not is refused
// with "FILE:LINE: option NAME is not supported by midge" and the reason,
// never silently ignored. Every error names the file and line it comes from,
// and Load reports all the errors of a file at once (errors.Join).
//
// Where the two Mosquitto versions differ, a file valid for either loads,
// and midge takes the safer reading; docs/mosquitto-compat.md lists each
// option with its status.
//
// Password and ACL files are loaded with package auth into the broker.Slots
// of a Scope, the links of its broker.Security chains; Reload replaces their
// content atomically on SIGHUP without rebuilding the broker.
package config
