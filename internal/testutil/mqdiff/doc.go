// Package mqdiff runs the same raw-packet script against Debian's
// Mosquitto and against midge, both started from the same mosquitto.conf
// lines, and compares what they send. It is apart from package testutil
// because it reads those lines with midge's configuration parser
// (internal/config), which testutil must not import: package cluster's own
// tests use testutil, and internal/config imports cluster.
package mqdiff
