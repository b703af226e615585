// Package client is an MQTT 3.1, 3.1.1 and 5.0 client: the one midge's
// command-line tools (midge pub, sub, rr), its load generator, its tests
// and its bridges use. It speaks to midge and to any compliant server,
// Eclipse Mosquitto included.
//
// # Connecting
//
// Dial connects and returns the server's CONNACK. Options is a plain
// struct whose zero value is valid (MQTT 3.1.1 to localhost:1883);
// Options.Address takes host:port or a URL: mqtt://, tcp://, mqtts://,
// ssl://, ws://, wss:// or unix://. Options.Dial replaces the transport
// altogether. A refused connection is a *ConnectError carrying the reason
// code and its MQTT 3.1.1 meaning.
//
// # Publishing
//
// Publish blocks until the message is done: written (QoS 0), acknowledged
// with PUBACK (QoS 1) or PUBCOMP (QoS 2). PublishAsync returns once the
// message is queued and reports the outcome to a callback, so a single
// goroutine can keep many messages in flight. Both wait while the
// in-flight window is full: the server's Receive Maximum (MQTT 5), or
// Options.MaxInflight (20 for MQTT 3.1/3.1.1 by default). An MQTT 5
// acknowledgement with a failure reason code is returned as a
// *ReasonError. Topic aliases are used when the message asks for one, or
// for every topic with Options.AutoTopicAlias.
//
// # Receiving
//
// Options.OnMessage receives messages in the order they arrive, one at a
// time, on a goroutine of the client's: it may call the client's methods.
// QoS 1 and 2 messages are acknowledged after OnMessage returns (or as
// they are read, with Options.AckOnReceipt). A QoS 2 message is handed to
// OnMessage once, however often the server retransmits it before releasing
// it. Topic aliases from the server are resolved, and the limits the
// client announces in CONNECT (Maximum Packet Size, Topic Alias Maximum,
// Receive Maximum) are enforced.
//
// # Sessions and reconnection
//
// With Options.Reconnect the client reconnects after a lost connection,
// backing off exponentially between attempts. If the server kept the
// session, publishes awaiting acknowledgement are resent with DUP and
// their packet identifiers [MQTT-4.4.0-1]; if it did not, the client
// restores its subscriptions and sends those publishes again as new
// messages. Meanwhile Publish, Subscribe and Unsubscribe wait for the new
// connection. Keep alive sends PINGREQ when the connection is idle and
// closes it when the server stops answering (Options.PingTimeout).
//
// # Concurrency and cost
//
// A Client is safe for concurrent use. Each connection has one reader and
// one writer goroutine, plus one goroutine running OnMessage; no goroutine
// is started per message. Senders encode into a shared buffer that the
// writer hands to the network once per burst, so pipelined publishes cost
// one system call per batch. In the steady state, publishing allocates
// nothing; a received message costs three allocations (the Message, its
// topic and its payload), which the application owns.
//
// # Debugging
//
// Options.OnPacket sees every packet sent and received, in wire order,
// which is what Mosquitto's -d output is made of; Options.Logger receives
// the client's own logs.
package client
