//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package broker

import (
	"syscall"
	"unsafe"
)

// Mosquitto 2.1 reopens its log file on SIGRTMIN. Its number depends on
// the C library: glibc keeps 32 and 33 for itself and defines SIGRTMIN as
// 34; musl (Alpine, the official Mosquitto container images) keeps 32 to 34
// and defines it as 35, which is glibc's SIGRTMIN+1.
//
// Go's runtime leaves signal 34 to the C library (musl's SIGSYNCCALL): it
// never installs a handler for it, so os/signal cannot deliver it, and its
// default action would end the broker. midge therefore reopens its log on
// signal 35 (SIGRTMIN on musl, "kill -s RTMIN+1" with glibc's kill) and
// ignores 34, so that a logrotate script written for Mosquitto on glibc
// cannot kill it.
const (
	sigRTMIN     = syscall.Signal(35)
	sigRTMINglib = syscall.Signal(34)
)

// ignoreGlibcRTMIN sets signal 34 to SIG_IGN with rt_sigaction(2): Go's
// runtime does not manage that signal, so this does not disturb it.
func ignoreGlibcRTMIN() error {
	// struct sigaction of the kernel: the handler first (everywhere but
	// MIPS, see signal_linux_mips.go); flags, restorer and mask zero,
	// with room to spare for every layout.
	var act [8]uintptr
	act[0] = 1 // SIG_IGN
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sigRTMINglib),
		uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); e != 0 {
		return e
	}
	return nil
}
