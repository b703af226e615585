// Package subdump writes the broker's subscriptions and retained topics as
// text, one per line and sorted: what Mosquitto prints on SIGUSR2 ("the
// subscription tree"), in a form that is easier to read and compare.
package subdump
