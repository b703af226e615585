// Package window holds a session's outgoing QoS 1 and 2 messages by
// value, in the order they were first sent, each under its packet
// identifier: a ring of slots that the window's messages reuse, so that
// sending one allocates nothing once the ring has grown to the window
// (where a pointer per message cost the broker an allocation per
// subscriber per message). Small tables find an identifier by scanning the
// ring; a table past smallTable slots keeps a map as well.
package window
