//go:build linux && (mips || mipsle || mips64 || mips64le)

package broker

import "syscall"

// On MIPS the kernel's struct sigaction starts with its flags, not the
// handler; midge does not set signal 34 there, and reopens its log on 35
// as elsewhere on Linux.
const sigRTMIN = syscall.Signal(35)

// ignoreGlibcRTMIN does nothing on MIPS.
func ignoreGlibcRTMIN() error { return nil }
