// Package base holds what midge's commands share, and nothing else: the
// standard streams a command runs with (Streams), and the C library's
// wording of an error (Strerror), which Mosquitto's tools print. The
// command packages under internal/cmd import it and never each other, as
// the go command's packages share cmd/go/internal/base.
package base
