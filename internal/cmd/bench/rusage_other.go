//go:build !unix

package bench

// selfCPU is not measured on this system.
func selfCPU() float64 { return -1 }
