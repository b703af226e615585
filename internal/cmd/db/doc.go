// Package db is the db command: "midge db dump [--stats | --client-stats |
// --json] FILE", or midge run as "mosquitto_db_dump" with the same
// options. It prints a persistence file: Mosquitto's mosquitto.db exactly
// as mosquitto_db_dump (2.1) does (package mosqdb reads and prints it), or
// midge's own store in the same style, read through the store's public
// API.
//
// Files: db.go (arguments, Mosquitto files), midge.go (midge stores).
package db
