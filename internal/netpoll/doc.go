// Package netpoll parks idle connections: a Poller watches the sockets of
// connections whose reader goroutine has ended (one epoll set and one
// goroutine for all of them, on Linux) and reports each one once it becomes
// readable, and a Wheel holds their keep alive deadlines in coarse slots
// behind a single timer, so that a parked connection costs a map entry and
// a slice entry instead of a goroutine, a buffer and a runtime timer.
//
// The broker owns what happens on a report (it starts a new reader, or
// times the connection out); this package only watches and schedules.
package netpoll
