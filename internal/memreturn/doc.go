// Package memreturn gives memory back to the operating system soon after
// it is done with, at most once a second: that of large packets, and the
// collector's headroom left by a burst of connections once the burst
// settles.
package memreturn
