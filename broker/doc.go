// Package broker is midge's MQTT broker: MQTT 5.0, 3.1.1 and 3.1 over TCP,
// TLS, Unix sockets and WebSockets, with Mosquitto 2.0's behaviour where the
// specification leaves a choice. The midge command (midge broker) is a thin
// layer over it that reads mosquitto.conf; a Go program can embed the same
// broker.
//
// # Embedding
//
// Make a Server from a Config and serve listeners on it:
//
//	srv := broker.New(broker.Config{AllowAnonymous: true, Logger: logger})
//	ln, err := broker.Listen(ctx, broker.Listener{Address: "127.0.0.1:1883"})
//	if err != nil { ... }
//	go srv.Serve(ctx, ln, broker.Listener{})
//	...
//	err = srv.Shutdown(shutdownCtx) // or srv.Close() to stop at once
//
// ListenAndServe opens and serves every listener of Config.Listeners (or
// Mosquitto's local-only defaults). A Server's methods are safe for
// concurrent use. Besides MQTT clients, the program can publish (Publish),
// watch what is routed (Observe), list and disconnect sessions (Sessions,
// Disconnect), read and delete retained messages, read the statistics
// behind $SYS (Stats, SysValues), serve request/response endpoints under
// $CONTROL/ (HandleControl) and change the settings that can change while
// running (Reload). Config.Admit and OnDisconnect, DisconnectWith, Route and
// SetRetained let a cluster own client identifiers and retained messages;
// Config.Replicate holds a client's PUBACK or PUBREC until the program has
// replicated the message (to the other nodes of a cluster), and
// Server.RouteAsync delivers a message from elsewhere and reports when the
// deliveries are durable.
//
// # Contracts
//
// Authentication and authorization are the program's: Authenticators
// decide who may connect, Authorizers who may publish, receive and
// subscribe to what (Security, per listener or for the whole Config). They
// are links of ordered chains, as Mosquitto's security plugins are: each
// answers Allow, Deny or Defer (no opinion), the first answer that is not
// Defer decides, and a Slot lets a link be replaced while the server runs
// (SIGHUP); package auth provides Mosquitto's password and ACL files as
// links. They are called from connection goroutines, concurrently, with a context that
// is cancelled when the connection closes (authorizations made on no
// connection's behalf, such as a delivery's or a will's, get the server's
// context, cancelled by Shutdown or Close); they must be safe for
// concurrent use and should return promptly.
//
// Control endpoints are Mosquitto's $CONTROL/<name>/v1 topics: a component
// registers a ControlHandler with HandleControl
// ("$CONTROL/dynamic-security/v1"), and a client's PUBLISH to the topic,
// once the authorization chain allows it (Write on the topic), goes to the
// handler instead of the subscribers; its response is published on the
// topic with "/response" appended (see control.go). DisconnectClients kicks
// clients, as a security component does after changing their rights.
//
// Persistence is a Store (Config.Store; midge's are in the store package):
// the broker writes sessions, queued deliveries and retained messages to it
// in batches, from one goroutine, and acknowledges a message that must be
// kept only once the Store says it is durable. Durability is never traded
// for speed: with PersistenceInterval zero, everything acknowledged is on
// disk. The program closes the Store after Shutdown has returned nil.
//
// The broker logs through the log/slog Logger of Config (records that are
// Mosquitto's own messages are worded as Mosquitto words them; the
// internal/logging handler writes them as Mosquitto's log does). It never
// uses slog's default logger and keeps no global state: several Servers
// may run in one process.
//
// Resource bounds: a client that has not been authenticated can make the
// broker hold only a small read buffer and a CONNECT of at most 1 MiB,
// allocated as its bytes arrive; a large message is held once, not copied
// per subscriber; idle connections park and hold no goroutine.
//
// # Session migration
//
// A persistent session can move to another Server (a cluster node taking
// its client over): ExportSession on the old server takes it off at once —
// a connection attached to it is closed as a takeover closes it
// (DISCONNECT 0x8E in MQTT 5), its subscriptions leave the routing index,
// nothing more is delivered to it there — and returns its state in the
// Store's types (SessionExport: the StoredSession, the queued and
// in-flight StoredDeliveries with their QoS 2 state and sequence numbers,
// the inbound QoS 2 packet identifiers). ImportSession on the new server
// installs it offline, commits it to that server's Store when there is
// one, and subscribes it; the next CONNECT of its client without Clean
// Start resumes it with session present 1, resending in-flight messages
// with their packet identifiers. With a Store, the old server keeps its
// stored copy until DropExported, which the caller calls once
// ImportSession has returned nil: a crash in between leaves two copies,
// never none. Messages routed to the old server after the export are not
// delivered to the session; moving the routes is the caller's (a cluster's
// routes follow the subscriptions).
//
// The concurrency model (every goroutine and lock, the lock order) and the
// publish path are described in docs/internals.md in the repository.
package broker
