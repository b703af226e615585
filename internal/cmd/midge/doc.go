// Package midge is midge's command dispatcher: Main picks the command from
// the program's name when midge runs through one of Mosquitto's names
// (mosquitto, mosquitto_pub, mosquitto_sub, mosquitto_rr, mosquitto_passwd)
// or else from the first argument ("midge broker", "midge pub", ...), and
// runs it. It is the only package that imports the command packages under
// internal/cmd; each command is a function of its arguments and
// base.Streams, so it can be run and tested without a process of its own.
// "midge help" lists the commands; docs/cli.md describes them.
package midge
