// Package connwrite is the broker's machinery for writing to a client
// connection, apart from what to write:
//
//   - Gate starts a writer goroutine on demand and lets it end when nothing
//     is left to write, so that an idle connection holds no goroutine;
//     Starter starts it without allocating, so that a busy connection
//     whose writer ends and starts again every few packets costs no
//     garbage;
//   - Buffer encodes a batch of packets and writes it with one system call,
//     large payloads by writev from the message, without a copy; Buffers
//     are pooled (Pool), so an idle connection holds none;
//   - Aliases assigns the topic aliases the server uses toward a client;
//   - Counters and Totals count packets for $SYS, per batch and per server.
//
// Which packets to write, in which order, and the session state behind
// them stay in the broker.
package connwrite
