// Package bench is the bench command, "midge bench": a load generator and
// latency meter for MQTT brokers in the spirit of emqtt-bench. Its modes
// are conn (many idle connections), pub, sub and pubsub (publishers and
// subscribers, with an exact check of every delivery in pubsub); "midge
// bench --help" lists the options, and docs/performance.md shows how the
// project uses it.
//
// # Its own wire engine, and why
//
// For mqtt:// and mqtts:// the tool has its own engine on package packet
// (wire.go): publishers encode PUBLISH packets into a buffer they write
// themselves, and subscribers decode them in place and batch their
// acknowledgements. WebSocket goes through package client (client.go), and
// --engine client puts any URL on it. The own engine is kept because a
// measurement says package client cannot drive the load without becoming
// the limit: per delivered message it costs the tool 1.9 to 3.6 times the
// CPU of the wire engine (figures below), and on a machine whose cores the
// tool shares with the broker that is throughput the broker never gets to
// show.
//
// The measurement, one run, engines alternating, three repetitions each:
// midge at f3ac9a1 (built with Go 1.26.8), "midge broker" with the default
// configuration and "midge bench" on one 2-core AMD EPYC VM (Linux 6.18)
// shared with other work, so absolute rates vary from run to run; the CPU
// per message varies less. QoS 0, 64-byte payloads, MQTT 3.1.1:
//
//	fan-in, 8 publishers to bench/<i>, 1 subscriber, 1,000,000 messages
//	  (midge bench pubsub -q 0 -c 8 -C 1000000 --engine wire|client)
//	                   received msg/s      tool CPU per message   broker CPU per message
//	  wire engine      738k  708k  620k    0.58  0.47  0.48 µs    1.40  1.23  1.36 µs
//	  client engine    501k  482k  471k    1.48  1.24  1.20 µs    1.41  1.14  1.17 µs
//
//	fan-out, 1 publisher, 50 subscribers, 40,000 messages = 2,000,000 deliveries
//	  (midge bench pubsub -q 0 -c 1 -S 50 -C 40000 -t bench/fanout --engine wire|client)
//	                   deliveries/s        tool CPU per delivery  broker CPU per delivery
//	  wire engine      1.04M 545k  1.49M   0.50  0.57  0.31 µs    0.78  1.02  0.59 µs
//	  client engine    875k  588k  577k    1.07  1.07  1.11 µs    0.81  0.78  0.85 µs
//
// In fan-in the client engine delivered about 30% less with the same broker
// cost per message: the tool, not the broker, set the rate. The cost is on
// the receiving side (package client allocates a Message, its topic and
// payload per delivery and hands it to the OnMessage goroutine); the
// earlier, pinned fan-out figures in docs/performance.md agree.
//
// # Files
//
//	bench.go      options, parsing, the command
//	run.go        pub, sub and pubsub: publishers, subscribers, flow control
//	conn.go       conn: many idle connections
//	scenario.go   helpers of the scenario modes: acknowledging reader, publish stream
//	queue.go      queue and storm: persistent sessions with queued messages
//	filters.go    filters: many distinct filters, publishes to random topics
//	proc.go       finding the broker's process; the open-file limit
//	wire.go       the wire engine: MQTT over TCP/TLS straight on package packet
//	client.go     the client engine: package client (WebSocket, --engine client)
//	report.go     progress line, summary, JSON, /proc
//	histogram.go  latency histogram
//	stamp.go      payload stamp and sequence checking
//	template.go   topic and client identifier templates
//	rusage_*.go   the tool's own CPU time
package bench
