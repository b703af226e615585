// Package clienttool is the three client commands, pub, sub and rr
// ("midge pub", or midge run as "mosquitto_pub", and so on), with the
// command line they share: Mosquitto 2.0.11's client_shared.c options,
// options files, checks and messages, and libmosquitto's behaviour, on
// package client. Run under Mosquitto's names they are byte-compatible with
// Debian's tools, --help included; run as "midge pub" they name themselves
// and midge's version. One package, because the three tools share most of
// their code: rr publishes as pub does and prints what it receives as sub
// does.
//
// Files:
//
//	options.go     the shared command line (client_config_load)
//	cparse.go      C's number parsing and libmosquitto's string checks
//	properties.go  -D / --property: MQTT 5 properties by command
//	tls.go         the TLS options on crypto/tls
//	run.go         what the tools share when they run: options, -d lines, errors
//	proptap.go     the order of a PUBLISH's properties, for %j
//	usage.go       --help and --version, under either name
//	pub.go, sub.go, rr.go          the tools
//	sub_format.go, sub_json.go     -F and %J, as sub and rr print a message
//	*_usage.go     Mosquitto's --help texts, verbatim
//
// docs/cli.md lists every option and its status.
package clienttool
