// Package atomicfile replaces small files durably: a crash leaves the old
// content or the new, never a mixture or nothing.
package atomicfile
