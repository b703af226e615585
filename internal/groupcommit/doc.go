// Package groupcommit is a single writer that commits batches of changes
// for many callers at once (group commit): callers add changes and a
// completion function in order; the Committer merges everything pending
// into one batch, commits it once, and then runs the completions in the
// order they were added. Many clients' writes thus share one fsync, and
// per-caller order is kept.
//
// What a batch is and how it is committed is the caller's (the broker's
// Store batches); this package owns the ordering, the fences and the
// goroutine.
package groupcommit
