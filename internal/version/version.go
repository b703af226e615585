// Package version holds midge's version, the one declaration of it: the
// broker publishes it in $SYS/broker/version and logs it, and the commands
// print it ("midge version", "midge pub --help").
package version

// Version is midge's release.
const Version = "0.1.0"
