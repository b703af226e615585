package packet

import "strings"

// ValidTopicName reports whether name may be used as a Topic Name in PUBLISH:
// a non-empty UTF-8 string without wildcard characters [MQTT-4.7.3-1],
// [MQTT-3.3.2-2]. (A zero-length name with a Topic Alias is handled by the
// PUBLISH decoder.)
func ValidTopicName(name string) bool {
	return name != "" && ValidString(name) && strings.IndexAny(name, "+#") < 0
}

// ValidTopicFilter reports whether filter is a syntactically valid Topic
// Filter: non-empty [MQTT-4.7.3-1], "#" only alone as the last level
// [MQTT-4.7.1-1], "+" only as a whole level [MQTT-4.7.1-2]. Shared
// subscription filters ("$share/{name}/{filter}") must name a share without
// wildcards or "/" and a non-empty valid filter [MQTT-4.8.2-1], [MQTT-4.8.2-2].
func ValidTopicFilter(filter string) bool {
	if filter == "" || !ValidString(filter) {
		return false
	}
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		name, inner, found := strings.Cut(rest, "/")
		if !found || name == "" || strings.ContainsAny(name, "+#") || inner == "" {
			return false
		}
		filter = inner
	}
	for i := 0; i < len(filter); i++ {
		switch filter[i] {
		case '#':
			if i != len(filter)-1 || (i > 0 && filter[i-1] != '/') {
				return false
			}
		case '+':
			if (i > 0 && filter[i-1] != '/') || (i < len(filter)-1 && filter[i+1] != '/') {
				return false
			}
		}
	}
	return true
}
