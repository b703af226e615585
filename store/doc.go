// Package store holds midge's implementations of broker.Store, for
// programs that embed the broker: Memory, in memory, for tests and
// brokers without persistence, and Bolt, on disk, crash-safe, on
// go.etcd.io/bbolt, which `midge broker` uses with persistence true. Both
// keep the same records (see record.go for the encoding) and pass one
// conformance suite, store/storetest, which another Store can run too.
// Example_broker runs a broker with a Bolt.
//
// # Durability
//
// Every Bolt Commit appends its batch to a write-ahead log beside the file
// (FILE-wal, see wal.go) and makes it durable with one fdatasync before
// Commit returns: a batch committed when Commit returns survives kill -9
// and power loss, and a batch whose Commit did not return is either wholly
// there or wholly absent. A checkpoint applies the logged batches to the
// B+tree in one bbolt transaction (fdatasync of the pages, then of the
// meta page), which also records the last record applied, when the log
// holds 2 MB or 4,096 batches not yet applied (on a goroutine of its own,
// while Commits go on appending to the log), before reads and at Close;
// OpenBolt replays what lies beyond it. The log starts again from its
// first record only once every record in it is applied, durably. Commit's sync argument is therefore a hint that
// Bolt does not need; the cost of an fsync per Commit is shared by grouping
// many clients' changes into one Batch, which the broker does. bbolt's
// NoSync mode is never used: a crash with it can leave a torn meta page.
//
// # Layout of the file
//
// One bbolt file with seven buckets:
//
//	meta      "format" → FormatVersion in decimal, "created-by" → BoltOptions.CreatedBy,
//	          "store-id" → 16 random bytes, which the log's header repeats,
//	          "wal-applied" → big-endian uint64 sequence number of the last log record applied,
//	          "wal-size" → big-endian uint64 length of the log at the last checkpoint
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
// change of count rewrites a few bytes, not the message. Store formats 1
// (a copy of the message in every delivery record) and 2 (a log without a
// header) are upgraded by OpenBolt (see FormatVersion).
//
// # Telling damage from a crash
//
// A crash leaves the files in one of a few known states, and OpenBolt
// accepts exactly those; anything else is damage, which loses data if
// taken as it is, so OpenBolt refuses it (below). The store file and its
// log are a pair: each has the store id, made at random when the store is
// made, and the store file records, at every checkpoint, the log's length
// and the last record applied.
//
//   - Making the store: the store file is laid out under a temporary name
//     and renamed, then the log is made the same way, then its length is
//     recorded. A crash leaves no store file, or a store file without a
//     log and without a recorded length (the log is made then). So an
//     empty store file, a bbolt file without the buckets, a log without a
//     store file, and a missing log where a length is recorded are damage.
//   - The log's header (the store id) must match the store file's: another
//     store's log, or a store file replaced by another, is damage.
//   - The log is given its length in zeros before a record is written in
//     it, durably, and a record always ends before the end of the file. So
//     a log shorter than the recorded length, or one that ends with a
//     record, was cut short.
//   - The log's records have consecutive sequence numbers from its start.
//     After a checkpoint, new records overwrite old ones from the start;
//     what follows the last new record is zeros, or old records, which the
//     store file has applied (their numbers are at most the last applied).
//     So the run of records from the start must begin at most one after
//     the last applied (else the records between are lost: the store file
//     is older than its log, restored from a copy or with its newest
//     transaction damaged), and, if it begins at or before it, reach it
//     (else a record the store applied is damaged).
//   - Where the run ends: a record numbered after the last one there (up
//     to 16 after it, anywhere further on) means the record where the run
//     ends is damaged and the records after it are lost: that is damage.
//     Otherwise, a record whose header names the next number but which is
//     not whole is the one an append was writing when the process died or
//     the power failed (a torn final record): its batch was never
//     acknowledged, since Commit returns only after the write is durable.
//     It is dropped, with a warning to BoltOptions.Logger, and zeroed.
//     Anything else there (zeros, the rest of an older record the run has
//     overwritten in part, a record torn within its first 16 bytes) is the
//     end of the log. A final record damaged after it was written whole
//     cannot be told from a torn one, and is dropped the same way, with
//     the warning.
//   - bbolt keeps two meta pages and uses the newest valid one: a damaged
//     newest page rolls the file back one transaction without a word. A
//     torn meta page is what a power cut during a checkpoint leaves, and
//     the log still holds that checkpoint's records unless it has started
//     over since: OpenBolt checks both pages itself, and if one is
//     damaged it warns and goes on only if the log's records continue from
//     the older transaction (the rule above), which loses nothing.
//   - With a damaged meta page, OpenBolt also reads every branch and leaf
//     page (key order, and the pages bbolt panics on, recovered): on a
//     309 MB store, 40 to 60 ms with the file in the page cache, 5.5 s
//     from a virtio disk without (see checkPages); otherwise the root
//     pages are read at every open, and the rest by Load and LoadQueue.
//
// Damage to parts of the log that hold nothing unapplied (the zeros past
// the records, or records older than the last run) loses nothing and is
// not looked for.
//
// # When the files cannot be used
//
// OpenBolt refuses, with an error that names the file and says what is
// wrong and what to do, a missing or unwritable location, a file another
// process holds (ErrInUse), and a store file or log that is damaged (see
// above), not a midge store, or from a newer midge (ErrCorrupt). Load and
// LoadQueue report damage they find later as ErrCorrupt too: bbolt panics
// on some damaged pages, and those panics are recovered. Refused files are
// never changed or removed; MoveAside, which `midge broker --recover`
// runs, renames the store file and its log to FILE.corrupt-<time> and
// FILE.corrupt-<time>-wal so that the next start begins with an empty
// store. A Commit that fails to write (a full disk) returns the error and
// leaves the store as it was and usable.
package store
