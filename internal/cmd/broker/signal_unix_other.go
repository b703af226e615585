//go:build unix && !linux

package broker

import "syscall"

// sigRTMIN is 0 where midge does not know the number of SIGRTMIN: the log
// file is then reopened on SIGHUP only (which reloads the configuration).
const sigRTMIN = syscall.Signal(0)

// ignoreGlibcRTMIN does nothing: only Linux has glibc's numbering.
func ignoreGlibcRTMIN() error { return nil }
