//go:build !unix

package bench

// selfCPU is not measured on this system.
func selfCPU() float64 { return -1 }

// raiseFDLimit is unknown here.
func raiseFDLimit(need uint64) int64 { return -1 }
