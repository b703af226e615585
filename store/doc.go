// Package store implements broker.Store: Memory, in memory, for tests and
// embedders, and Bolt, on disk, on go.etcd.io/bbolt. Both keep the same
// records (see record.go for the encoding) and pass one conformance suite,
// storetest.Run.
//
// # Durability
//
// Every Bolt Commit appends its batch to a write-ahead log beside the file
// (FILE-wal, see wal.go) and makes it durable with one fdatasync before
// Commit returns: a batch committed when Commit returns survives kill -9
// and power loss, and a batch whose Commit did not return is either wholly
// there or wholly absent (a torn or failed record ends the log). A
// checkpoint applies the logged batches to the B+tree in one bbolt
// transaction (fdatasync of the pages, then of the meta page), which also
// records the last record applied, when the log holds 2 MB or 4,096
// batches, before reads and at Close; OpenBolt replays what lies beyond it.
// Commit's sync argument is therefore a hint that Bolt does not need; the
// cost of an fsync per Commit is shared by grouping many clients' changes
// into one Batch, which the broker does. bbolt's NoSync mode is never used:
// a crash with it can leave a torn meta page.
//
// # Layout of the file
//
// One bbolt file with seven buckets:
//
//	meta      "format" → FormatVersion in decimal, "created-by" → BoltOptions.CreatedBy,
//	          "wal-applied" → big-endian uint64 sequence number of the last log record applied
//	retained  topic → retained record
//	sessions  client id → session record
//	queue     client id, 0x00, big-endian uint64 seq → delivery record (message id, per-session fields)
//	messages  big-endian uint64 message id → stored message record
//	refs      big-endian uint64 message id → number of delivery records naming it
//	inbound   client id, 0x00, big-endian uint16 packet id → 0x01
//
// Client identifiers cannot contain NUL (Commit refuses them), so the 0x00
// separator keeps one client's keys apart from those of every other, and
// key order is sequence order within a client.
//
// # One copy of each queued message
//
// A message queued for many sessions is stored once, in messages, under
// the id the broker gives it (broker.StoredDelivery.ID); each delivery
// record names it, and refs counts the records that do. Commit sums what a
// batch does to the counts and applies the sums at its end, in the same
// transaction: a message the batch's puts name that is not stored is
// written once however many puts name it, and a message whose count
// reaches zero is deleted. Counts live apart from the messages so that a
// change of count rewrites a few bytes, not the message. Store format 1,
// which kept a copy of the message in every delivery record, is upgraded
// by OpenBolt (see FormatVersion).
//
// # When the file cannot be used
//
// OpenBolt refuses, with an error that says what to do, a missing or
// unwritable location, a file another process holds (ErrInUse), and a file
// that is damaged, not a midge store, or from a newer midge (ErrCorrupt).
// Load and LoadQueue report damage they find later as ErrCorrupt too: bbolt
// panics on some damaged pages, and those panics are recovered. A refused
// file is never changed or removed; MoveAside, which `midge broker
// --recover` runs, renames it (and its log) to FILE.corrupt-<time> so that
// the next start begins with an empty store. A Commit that fails to write
// (a full disk) returns the error and leaves the store as it was and
// usable.
package store
