// Package ctrl is "midge ctrl" (or midge run as "mosquitto_ctrl"):
// Mosquitto's mosquitto_ctrl, which administers a broker through its
// $CONTROL topics. It has the dynsec module, every command of the Dynamic
// Security plugin's tool including "init", and 2.1's broker module
// (listPlugins, listListeners), and 2.1's -f, which changes a password in
// the configuration file without a broker (package dynsec). The connection options, the options file
// (~/.config/mosquitto_ctrl), the 10 s wait for the answer, and what it
// prints and exits with are mosquitto_ctrl's, byte for byte, under
// Mosquitto's name; the connection itself (host, port, Unix socket, TLS) is
// made by package clienttool's code, as for pub, sub and rr.
//
// Files:
//
//	ctrl.go      the command: options, module, exit status, usage
//	options.go   the connection options and the options file
//	dynsec.go    the dynsec commands and their JSON
//	init.go      dynsec init, which writes a configuration file
//	broker.go    the broker module
//	request.go   connect, subscribe, publish, wait for the answer
//	print.go     how answers are printed
//	json.go      cJSON's layouts and lookups
//	password.go  asking for a password
//
// docs/cli.md describes the command and what differs from Mosquitto.
package ctrl
