// Package cowmap is a copy-on-write map for data read on hot paths and
// changed rarely: readers load it without a lock, writers copy it under
// one. The broker's $CONTROL endpoint handlers are kept in one.
package cowmap
