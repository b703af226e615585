// Package crashtest holds the tests of persistence that run the midge
// binary: killed with SIGKILL at random moments while clients publish, it
// must deliver every message it acknowledged and no QoS 2 message twice;
// and started on a store file or log that was damaged, truncated or
// deleted, it must refuse to start with an error that names the file, and
// start with --recover. It has no code of its own outside its tests.
package crashtest
