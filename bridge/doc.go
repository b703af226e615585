// Package bridge implements Mosquitto-compatible bridges: a connection from
// this broker to another (the remote), configured by a mosquitto.conf
// "connection" block, that carries messages both ways with the topics
// remapped as Mosquitto remaps them.
//
// A bridge has two sides. Its local side is an ordinary session of the
// local broker (broker.Server.DialLocal): the messages it subscribes to are
// queued, kept in flight and written to the store like any client's, so
// with persistence and local_cleansession false a message the broker has
// acknowledged to its publisher survives a remote outage, a restart and a
// crash until the remote has acknowledged it. Its remote side is an MQTT
// 3.1, 3.1.1 or 5.0 client connection. The bridge relays packets between
// the two without holding messages of its own: a QoS 1 or 2 message keeps
// its packet identifier from one side to the other, and each
// acknowledgement is passed on only when the other side has given its own,
// so every resend after a reconnection (PUBLISH with DUP, PUBREL) comes
// from the local session's state and the remote's duplicate detection
// applies.
//
// The local side is connected only while the remote is: while the remote
// is down the local session is offline and its queue (QoS 1 and 2, and
// QoS 0 with queue_qos0_messages or, as in Mosquitto, for a lazy bridge)
// goes to the store.
package bridge
