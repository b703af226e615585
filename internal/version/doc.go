// Package version holds midge's version, the one declaration of it: the
// broker publishes it in $SYS/broker/version and logs it, the dashboard
// shows it, and the commands print it ("midge version", "midge pub --help").
package version
