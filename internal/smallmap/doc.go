// Package smallmap is a string-keyed map for sets that are usually small:
// a slice until it grows past a few entries, then a map, because a Go map
// holding one entry costs about ten times the entry. A broker session's
// subscriptions by filter are one (ForMemory); the children of a topic
// trie node, looked up for every PUBLISH, are another (ForLookups).
package smallmap
