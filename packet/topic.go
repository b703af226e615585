package packet

import "github.com/midge-mqtt/midge/internal/topic"

// ValidTopicName reports whether name may be used as a Topic Name in PUBLISH:
// a non-empty UTF-8 string of at most 65535 bytes without U+0000 or wildcard
// characters [MQTT-4.7.3-1], [MQTT-3.3.2-2]. (A zero-length name with a Topic
// Alias is handled by the PUBLISH decoder.) The rules are the topic
// package's, which the broker's router and ACL files use too.
func ValidTopicName(name string) bool {
	return topic.ValidName(name) == nil
}

// ValidTopicFilter reports whether filter is a syntactically valid Topic
// Filter: a non-empty UTF-8 string of at most 65535 bytes without U+0000
// [MQTT-4.7.3-1], "#" only alone as the last level [MQTT-4.7.1-1], "+" only
// as a whole level [MQTT-4.7.1-2]. Shared subscription filters
// ("$share/{name}/{filter}") must name a share without wildcards or "/" and
// a non-empty valid filter [MQTT-4.8.2-1], [MQTT-4.8.2-2].
func ValidTopicFilter(filter string) bool {
	return topic.ValidFilter(filter) == nil
}
