//go:build !linux

package store_test

import "testing"

func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Skip("needs a Linux tmpfs to make a small or read-only file system")
	return ""
}

const readOnlyMount = 0
