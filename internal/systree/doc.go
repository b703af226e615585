// Package systree computes Mosquitto's $SYS/broker tree from a Snapshot of
// a broker's counters: the values by topic (Values), and, between two
// publications, what changed and the load averages (State.Publish), as
// Mosquitto does (src/sys_tree.c). Publishing the messages is the
// caller's.
package systree
