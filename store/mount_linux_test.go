package store_test

import (
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs with the given flags and options (such as
// "size=512k") on a new temporary directory and unmounts it at the end of
// the test. It skips the test, saying why, where mounting is not possible
// (not root, or no CAP_SYS_ADMIN in a container).
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): this test needs root or CAP_SYS_ADMIN to make a small or read-only file system", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

const readOnlyMount = syscall.MS_RDONLY
