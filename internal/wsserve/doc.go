// Package wsserve serves MQTT over WebSockets: an HTTP handler whose
// requests that upgrade with an MQTT subprotocol become byte-stream
// connections (net.Conn over binary frames, which may split or join
// packets [MQTT-6.0.0-1], [MQTT-6.0.0-2]) handed to a callback, and whose
// other requests get the files of a directory, as Mosquitto serves them.
// What happens on the connection is the caller's.
package wsserve
