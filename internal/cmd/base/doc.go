// Package base holds what midge's commands share and nothing else: the
// standard streams a command runs with, and the C library's wording of an
// error, which Mosquitto's tools print. It is the one package the command
// packages under internal/cmd import from each other's side; no command
// package imports another.
package base
