package topic_test

import (
	"math/rand/v2"
	"strings"
)

// levelWords are the literal levels random names and filters are made of:
// few enough that random filters often match random names, with '$' levels
// and empty levels to exercise [MQTT-4.7.2-1] and "a//b".
var levelWords = []string{"a", "b", "c", "", "$SYS", "$x", "dev"}

// randName returns a random valid topic name of 1 to 5 levels.
func randName(r *rand.Rand) string {
	var sb strings.Builder
	n := 1 + r.IntN(5)
	for i := range n {
		if i > 0 {
			sb.WriteByte('/')
		}
		sb.WriteString(levelWords[r.IntN(len(levelWords))])
	}
	if sb.Len() == 0 {
		return "a" // "" is the only invalid outcome
	}
	return sb.String()
}

// randFilter returns a random valid plain topic filter of 1 to 5 levels.
func randFilter(r *rand.Rand) string {
	var sb strings.Builder
	n := 1 + r.IntN(5)
	for i := range n {
		if i > 0 {
			sb.WriteByte('/')
		}
		switch x := r.IntN(100); {
		case i == n-1 && x < 15:
			sb.WriteByte('#')
		case x < 35:
			sb.WriteByte('+')
		default:
			sb.WriteString(levelWords[r.IntN(len(levelWords))])
		}
	}
	if sb.Len() == 0 {
		return "#"
	}
	return sb.String()
}
