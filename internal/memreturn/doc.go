// Package memreturn gives the memory of large packets back to the
// operating system soon after they are done with, at most once a second.
package memreturn
