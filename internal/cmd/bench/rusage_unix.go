//go:build unix

package bench

import "syscall"

// selfCPU returns the CPU time (user and system) midge bench has used, in
// seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// raiseFDLimit raises the soft limit on open files towards need (up to the
// hard limit) and returns the soft limit in force, -1 if unknown.
func raiseFDLimit(need uint64) int64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return -1
	}
	if rl.Cur < need && rl.Cur < rl.Max {
		rl.Cur = min(max(need, rl.Cur), rl.Max)
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
	}
	return int64(rl.Cur)
}
