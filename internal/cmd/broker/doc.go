// Package broker is the broker command: "midge broker", or midge run as
// "mosquitto". It takes mosquitto's arguments (-c config_file, -d, -p, -v,
// -q, --test-config, plus --recover), reads a mosquitto.conf with package
// config, opens the store, the MQTT listeners and the dashboard's HTTP
// listeners, and runs a broker.Server until SIGINT or SIGTERM; SIGHUP
// reloads the configuration, SIGUSR1 writes the store, SIGUSR2 logs the
// subscription tree, as in Mosquitto.
//
// Files: broker.go (arguments, start-up, the run and its end), web.go (the
// dashboard's listeners and its authorization adapter), daemon.go (-d's
// readiness pipe), system_unix.go and system_other.go (dropping privileges,
// signals, systemd notification, daemonizing).
//
// The options are "midge broker -h"; the configuration file is Mosquitto's
// (mosquitto.conf(5)), with midge's differences in docs/mosquitto-compat.md.
//
// Inside this package, broker.X is the broker library it runs (package
// github.com/midge-mqtt/midge/broker), not this package.
package broker
