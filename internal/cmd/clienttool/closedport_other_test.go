//go:build !unix

package clienttool

import "testing"

// mqClosedPort returns a port on 127.0.0.1 that was free a moment ago.
func mqClosedPort(t testing.TB) string { return mqFreePort(t) }
