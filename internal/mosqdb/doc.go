// Package mosqdb reads Mosquitto's persistence file (mosquitto.db), the
// snapshot Mosquitto writes at autosave_interval and on a clean shutdown
// when persistence is on, and imports it into a midge store.
//
// # The format
//
// The file starts with a 15-byte magic ("\x00\xB5\x00mosquitto db"), a
// 4-byte CRC field (always 0: no Mosquitto computes or checks it) and the
// format version, big-endian. Then come chunks, each a header (type and
// length) and a body:
//
//	version 2, 3, 4 (Mosquitto up to 1.5.x): header = uint16 type, uint32 length;
//	    bodies are sequences of fields and uint16-prefixed strings.
//	version 5 (1.6), 6 (2.0 and 2.1): header = uint32 type, uint32 length;
//	    bodies are a fixed C struct followed by strings without prefixes
//	    (their lengths are in the struct) and, for messages, MQTT v5
//	    properties.
//
// Integers are big-endian, except the 64-bit message store ids, the last
// store id of the CFG chunk and the expiry times of versions 5 and 6, which
// Mosquitto writes in the host's byte order; Parse takes them as
// little-endian, the order of every machine Debian's mosquitto runs on but
// s390x and PowerPC big-endian.
//
// The chunk types are CFG (1: the last store id, whether the file was
// written at shutdown), BASE_MSG (2, MSG_STORE before 2.1: a message),
// CLIENT_MSG (3: a message queued for or in flight to or from a client, by
// store id and packet id), RETAIN (4: the store id of a retained message),
// SUB (5: a subscription) and CLIENT (6: a persistent session).
//
// Parse and ReadFile read the versions Mosquitto 1.5 to 2.1 write: 3
// (1.5.0 to 1.5.5), 4 (1.5.6 and later 1.5), 5 (1.6) and 6 (2.0 and 2.1),
// and the older 2. Anything they cannot read (another magic, a CRC field
// that is not 0, another version, a chunk that runs past the end of the
// file or whose fields do not fit it, an impossible value) is an *Error
// that names the file and what is wrong; Parse never panics, whatever the
// input (FuzzParse checks). Chunks of unknown types are skipped, as
// Mosquitto skips them.
//
// Version 6 is tested with a file Debian's mosquitto 2.0.11 wrote
// (testdata), the others with files build_test.go builds from this
// description.
//
// Import maps a File onto a broker.Store, and Migration does that once at
// the broker's start-up; see their documentation. WriteText, WriteJSON,
// WriteStats and WriteClientStats print a File as mosquitto_db_dump does.
package mosqdb
