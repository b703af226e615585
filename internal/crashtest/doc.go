// Package crashtest holds the crash test of persistence: the midge binary,
// killed with SIGKILL at random moments while clients publish, must deliver
// every message it acknowledged and no QoS 2 message twice. It has no code
// of its own outside its tests.
package crashtest
