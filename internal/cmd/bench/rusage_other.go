//go:build !unix

package cli

// selfCPU is not measured on this system.
func selfCPU() float64 { return -1 }
