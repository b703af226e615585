// Package topic implements MQTT topic names and topic filters (MQTT 3.1.1
// §4.7, MQTT 5.0 §4.7 and §4.8): their validation, the reference matcher, the
// subscription index that the broker routes every PUBLISH through, the index
// of retained messages, and the filters of Mosquitto's ACL files (their
// validation, %c and %u substitution in Pattern, and the filter algebra Meet
// and Covers). It is the one place these rules live: package packet
// validates names and filters with it, package auth matches ACL rules with
// it, and the broker routes with it.
//
// # Names and filters
//
// A topic name is what a PUBLISH carries; a topic filter is what a SUBSCRIBE
// carries and may contain the wildcards '+' (exactly one level) and '#' (the
// parent level and any number of levels below it, last level only). Levels are
// separated by '/', and empty levels are allowed ("/a//b" has four). Filters
// that start with a wildcard do not match names that start with '$'
// [MQTT-4.7.2-1], so "#" does not see "$SYS/broker/uptime".
//
// A filter of the form "$share/{ShareName}/{filter}" is a shared subscription
// (MQTT 5.0 §4.8.2): every group of subscribers that share a ShareName and a
// filter receives each matching message once, delivered to one member chosen
// by the broker. See [ParseShared] and [Group].
//
// Matching is by byte comparison: no normalization or substitution of any
// kind is performed [MQTT-4.7.3-4].
//
// # Concurrency
//
// The functions of this package are pure. [Index] and [Retained] are safe for
// concurrent use: any number of goroutines may match while others add and
// remove entries. Lookups share a read lock and never call out to the caller
// while holding it; updates take the write lock for a time proportional to
// the number of levels of the filter or name involved.
package topic
