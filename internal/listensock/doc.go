// Package listensock opens a broker's listening sockets as Mosquitto does:
// TCP without TCP keep-alive, optionally bound to a network interface, or a
// Unix socket whose stale file from an earlier run is removed first.
package listensock
