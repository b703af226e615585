// Package bufpool is a bounded free list of equal-sized byte buffers, the
// broker's pool of connection read buffers.
package bufpool
