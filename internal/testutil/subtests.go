package testutil

import "testing"

// ForEach runs body as a parallel subtest for each of items, named
// name(item).
func ForEach[T any](t *testing.T, items []T, name func(T) string, body func(t *testing.T, item T)) {
	t.Helper()
	for _, item := range items {
		t.Run(name(item), func(t *testing.T) {
			t.Parallel()
			body(t, item)
		})
	}
}
